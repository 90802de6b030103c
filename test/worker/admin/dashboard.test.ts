import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/worker';
import { freshIp } from '../../support/app';

const TOKEN = 'dashboard-secret-42';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const ORIGIN = 'http://api.example.test';

afterEach(async () => {
  const { keys } = await env.RATE_LIMIT_CONFIG.list({ prefix: 'override:' });
  await Promise.all(keys.map((k) => env.RATE_LIMIT_CONFIG.delete(k.name)));
});

const page = (path: string, init: RequestInit = {}) => app.request(`${ORIGIN}/_ratelimit/dashboard${path}`, init, bindings);
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  page(path, { method: 'POST', body: form(fields), headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN, ...headers } });

async function signIn(): Promise<string> {
  const response = await post('/login', { token: TOKEN });
  expect(response.status).toBe(303);
  expect(response.headers.get('Location')).toBe('/_ratelimit/dashboard');
  const cookie = response.headers.get('Set-Cookie')!;
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/Secure/);
  expect(cookie).toMatch(/SameSite=Strict/);
  expect(cookie).toMatch(/Path=\/_ratelimit/);
  expect(cookie).not.toContain(TOKEN);
  return cookie.split(';')[0]!;
}

describe('the dashboard page', () => {
  it('asks for the admin token, and refuses a wrong one or one posted from another origin', async () => {
    const first = await page('');
    expect(first.status).toBe(401);
    expect(await first.text()).toContain('name="token"');
    expect((await post('/login', { token: 'nope' })).status).toBe(401);
    expect((await post('/login', { token: TOKEN }, { Origin: 'https://evil.example' })).status).toBe(401);
    expect((await page('', { headers: { Cookie: 'erl_admin=' + '0'.repeat(64) } })).status).toBe(401);
  });

  it("shows the policy's rules, and saves and deletes an override from its form", async () => {
    const cookie = await signIn();
    const shown = await page('', { headers: { Cookie: cookie } });
    expect(shown.status).toBe(200);
    const body = await shown.text();
    expect(body).toContain('<code>per-ip</code>');
    expect(body).toContain('10 / 1m');
    const ip = freshIp();
    const saved = await post('/overrides', { rule: 'per-ip', kind: 'key', value: ip, limit: '3', window: '1m', reason: '<script>alert(1)</script>' }, { Cookie: cookie });
    const html = await saved.text();
    expect(html).toContain(`Saved override:per-ip:key:${ip}`);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get(`override:per-ip:key:${ip}`))!)).toEqual({ limits: [{ algorithm: 'fixed-window', limit: 3, window: 60_000 }], reason: '<script>alert(1)</script>' });
    const deleted = await post('/overrides/delete', { key: `override:per-ip:key:${ip}` }, { Cookie: cookie });
    expect(await deleted.text()).toContain(`Deleted override:per-ip:key:${ip}`);
    expect(await env.RATE_LIMIT_CONFIG.get(`override:per-ip:key:${ip}`)).toBeNull();
  });

  it('refuses form posts without the page origin, and names what is wrong with a bad override', async () => {
    const cookie = await signIn();
    const crossSite = await post('/overrides', { rule: 'per-ip', kind: 'key', value: '1.2.3.4', exempt: 'true' }, { Cookie: cookie, Origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    const bad = await post('/overrides', { rule: 'per-ip', kind: 'key', value: '1.2.3.4', limit: '-3', window: '1m' }, { Cookie: cookie });
    expect(await bad.text()).toMatch(/Error: limits\.0\.limit: /);
    expect((await env.RATE_LIMIT_CONFIG.list({ prefix: 'override:' })).keys).toEqual([]);
  });

  it('looks a key up and shows its live counters', async () => {
    const cookie = await signIn();
    const ip = freshIp();
    for (let i = 0; i < 4; i++) await (await app.request(`${ORIGIN}/items`, { headers: { 'CF-Connecting-IP': ip } }, bindings)).arrayBuffer();
    const html = await (await page(`?rule=per-ip&by=ip&value=${ip}`, { headers: { Cookie: cookie } })).text();
    expect(html).toContain('<td><code>per-ip/1m</code></td><td>4</td><td>6 of 10</td>');
  });
});
