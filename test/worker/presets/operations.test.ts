import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/worker';
import { freshIp } from '../../support/app';
import { signInToDashboard } from '../admin/support';

const TOKEN = 'preset-operations-secret';
const app = createApp();
const kv = env.RATE_LIMIT_CONFIG;

afterEach(async () => {
  const { keys } = await kv.list({ prefix: 'override:' });
  await Promise.all(keys.map((k) => kv.delete(k.name)));
});

/** For each preset: a request every caller of it may send, and the rule that limits an anonymous caller there. */
const PRESETS = [
  { name: 'cloudsmith', path: '/user/self/', rule: 'api-anonymous' },
  { name: 'rubygems', path: '/api/v1/gems/rails.json', rule: 'lb-ip' },
  { name: 'fluidcloud', path: '/api/v1/files', rule: 'keyless' },
  { name: 'keygen', path: '/v1/me', rule: 'client-ip' },
] as const;

describe.each(PRESETS)('operating the $name preset live', ({ name, path, rule }) => {
  const bindings = { ...env, POLICY: name, ADMIN_TOKEN: TOKEN };
  const get = (url: string, ip: string, headers: Record<string, string> = {}) =>
    app.request(`http://api.example.test${url}`, { headers: { 'CF-Connecting-IP': ip, ...headers } }, bindings);
  const admin = (url: string, init: RequestInit = {}) =>
    app.request(
      `http://api.example.test/_ratelimit${url}`,
      { ...init, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...init.headers } },
      bindings,
    );

  it('tells a caller its own budget at the quota endpoint, without counting', async () => {
    type Report = { policy: string; limits: Array<{ rule: string; used: number; windowSeconds: number }> };
    // The clock is real and some of these windows last a second: a try whose request and reads
    // straddle the end of the window has nothing to show, and is tried again on a fresh address.
    for (let attempt = 1; ; attempt++) {
      const ip = freshIp();
      const started = Date.now();
      await (await get(path, ip)).arrayBuffer();
      const read = async () => (await (await get('/.well-known/ratelimit', ip)).json()) as Report;
      const first = await read();
      const second = await read();
      const windowMs = first.limits.find((l) => l.rule === rule)!.windowSeconds * 1000;
      if (Math.floor(started / windowMs) !== Math.floor(Date.now() / windowMs) && attempt < 5) continue;
      expect(first.policy).toBe(name);
      expect(first.limits.find((l) => l.rule === rule)?.used).toBe(1);
      expect(second.limits.find((l) => l.rule === rule)?.used).toBe(1);
      return;
    }
  });

  it('applies an override written through the admin API on the next request, and inspects the key', async () => {
    const ip = freshIp();
    const put = await admin(`/overrides/*/key/${ip}`, {
      method: 'PUT',
      body: JSON.stringify({ limits: [{ limit: 2, window: '1h' }], reason: 'abuse report' }),
    });
    expect(put.status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(path, ip)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const inspected = (await (await admin(`/keys/${rule}?ip=${ip}`)).json()) as {
      override: { reason: string } | null;
      limits: Array<{ used: number; remaining: number }>;
    };
    expect(inspected.override?.reason).toBe('abuse report');
    // Keygen counts refused requests too, so its count is 3.
    expect(inspected.limits[0]).toMatchObject({ used: name === 'keygen' ? 3 : 2, remaining: 0 });
    expect((await admin(`/keys/${rule}?ip=${ip}`, { method: 'DELETE' })).status).toBe(200);
    expect((await get(path, ip)).status).toBe(200);
  });

  it("serves the policy's rules to the admin API and the dashboard", async () => {
    const policy = (await (await admin('/policy')).json()) as { name: string; rules: Array<{ name: string }> };
    expect(policy.name).toBe(name);
    expect(policy.rules.map((r) => r.name)).toContain(rule);
    const cookie = await signInToDashboard(app, { token: TOKEN, bindings, origin: 'http://api.example.test' });
    const page = await app.request('http://api.example.test/_ratelimit/dashboard', { headers: { Cookie: cookie } }, bindings);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(name);
    expect(html).toContain(rule);
  });
});
