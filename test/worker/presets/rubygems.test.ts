import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { identityRow } from '../../../src/identity/record';
import { compilePolicy } from '../../../src/policy/compile';
import type { Policy } from '../../../src/policy/schema';
import rubygems from '../../../src/presets/rubygems';
import { sha256Hex } from '../../../src/request/credentials';
import { normalizePath } from '../../../src/request/normalize-path';
import { freshIp } from '../../support/app';
import { type Call, call, presetApp, runs, statuses, T0 } from './support';

/** An API key whose identity record names its account, as RubyGems.org's backend would write it. */
async function apiKeyOf(account: string) {
  const key = `rubygems_${crypto.randomUUID().replaceAll('-', '')}`;
  await env.RATE_LIMIT_CONFIG.put(identityRow(await sha256Hex(key)), JSON.stringify({ subject: account, tier: 'account' }));
  return { Authorization: key };
}

/** `n` requests spaced `gapMs` apart on the manual clock (under the load balancer's 10 per second). */
async function paced(
  app: Parameters<typeof call>[0],
  clock: { advance(ms: number): void },
  n: number,
  path: string,
  who: Call,
  gapMs = 150,
) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push((await call(app, path, who, env)).status);
    clock.advance(gapMs);
  }
  return runs(out);
}

describe('the RubyGems preset', { timeout: 60_000 }, () => {
  it('caps an IP at 10 requests per second across the API and website, answered as rack-attack does', async () => {
    const { app, clock } = presetApp(rubygems);
    const ip = freshIp();
    clock.set(T0 + 400);
    expect(runs(await statuses(app, 11, '/api/v1/gems/rails.json', { ip }, env))).toEqual([
      [200, 10],
      [429, 1],
    ]);
    const refused = await call(app, '/gems/rails', { ip }, env);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('1');
    expect(refused.headers.get('Content-Type')).toBe('text/plain; charset=utf-8');
    expect(refused.text_).toBe('Retry later\n');
    expect([...refused.headers.keys()].filter((h) => h.includes('ratelimit'))).toEqual([]);
    clock.set(T0 + 1_000);
    expect((await call(app, '/gems/rails', { ip }, env)).status).toBe(200);
  });

  it('allows 15 per second on the dependency API and compact index, apart from the general cap', async () => {
    const { app, clock } = presetApp(rubygems);
    const ip = freshIp();
    clock.set(T0 + 2_000);
    expect(runs(await statuses(app, 16, '/info/rails', { ip }, env))).toEqual([
      [200, 15],
      [429, 1],
    ]);
    expect(runs(await statuses(app, 11, '/api/v1/gems/rails.json', { ip }, env))).toEqual([
      [200, 10],
      [429, 1],
    ]);
  });

  it('counts the dependency API, /versions, /names and /info/* toward one 15 per second budget', async () => {
    const { app, clock } = presetApp(rubygems);
    const ip = freshIp();
    clock.set(T0 + 3_000);
    const paths = ['/api/v1/dependencies?gems=rails', '/versions', '/names', '/info/rack', '/api/v1/dependencies.json?gems=rack'];
    const out: number[] = [];
    for (let i = 0; i < 16; i++) out.push((await call(app, paths[i % paths.length]!, { ip }, env)).status);
    expect(runs(out)).toEqual([
      [200, 15],
      [429, 1],
    ]);
    clock.set(T0 + 4_000);
    expect((await call(app, '/versions', { ip }, env)).status).toBe(200);
  });

  it('allows 100 requests per 10 minutes per IP on sign-in, sign-up, password reset, profile and email confirmation', async () => {
    const { app, clock } = presetApp(rubygems);
    const ip = freshIp();
    clock.set(T0 + 600_000);
    const paths = ['/session', '/users', '/passwords/edit', '/profile/edit', '/email_confirmations'];
    const out: number[] = [];
    for (let i = 0; i < 101; i++) {
      out.push((await call(app, paths[i % paths.length]!, { ip, method: 'POST' }, env)).status);
      clock.advance(150);
    }
    expect(runs(out)).toEqual([
      [200, 100],
      [429, 1],
    ]);
    const refused = await call(app, '/session', { ip, method: 'POST' }, env);
    expect(Number(refused.headers.get('Retry-After'))).toBe(Math.ceil((T0 + 1_200_000 - (T0 + 600_000 + 101 * 150)) / 1000));
  });

  it('backs off sensitive operations per account: 300 per 5 minutes, then 600 per 25 hours', async () => {
    const { app, clock } = presetApp(rubygems);
    const headers = await apiKeyOf(`acct-${crypto.randomUUID()}`);
    const level2Start = Math.floor((T0 + 90_000_000) / 90_000_000) * 90_000_000;
    clock.set(level2Start);
    expect(await paced(app, clock, 301, '/api/v1/api_key', { ip: freshIp(), headers })).toEqual([
      [200, 300],
      [429, 1],
    ]);
    // The account, not the address, is limited.
    expect((await call(app, '/api/v1/gems/yank', { ip: freshIp(), method: 'DELETE', headers }, env)).status).toBe(429);
    clock.set(level2Start + 300_000);
    expect(await paced(app, clock, 301, '/api/v1/gems/rails/owners', { ip: freshIp(), method: 'POST', headers })).toEqual([
      [200, 300],
      [429, 1],
    ]);
    // 600 spent in this 25-hour window: the next five-minute window is refused by the long level.
    clock.set(level2Start + 600_000);
    const refused = await call(app, '/api/v1/api_key', { ip: freshIp(), headers }, env);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('Retry-After'))).toBe(90_000 - 600);
  });

  it('counts 400 successful pushes per hour per account; failed pushes only toward their own backoff', async () => {
    const { app, clock } = presetApp(rubygems);
    const headers = await apiKeyOf(`acct-${crypto.randomUUID()}`);
    clock.set(T0 + 7_200_000);
    const push = { ip: freshIp(), method: 'POST', headers };
    // 299 failed pushes spend none of the 400 successful ones.
    expect(await paced(app, clock, 299, '/api/v1/gems?status=422', push)).toEqual([[422, 299]]);
    expect(await paced(app, clock, 401, '/api/v1/gems', push)).toEqual([
      [200, 400],
      [429, 1],
    ]);
  });

  it('backs off sensitive operations of web sessions (no API key) per IP', async () => {
    const { app, clock } = presetApp(rubygems);
    const ip = freshIp();
    const level2Start = Math.floor((T0 + 90_000_000) / 90_000_000) * 90_000_000 + 90_000_000;
    clock.set(level2Start);
    expect(await paced(app, clock, 301, '/multifactor_auth', { ip, method: 'PUT' })).toEqual([
      [200, 300],
      [429, 1],
    ]);
    expect((await call(app, '/multifactor_auth', { ip: freshIp(), method: 'PUT' }, env)).status).toBe(200);
  });

  it('refuses pushes for the rest of the 25-hour window once 600 have failed (the long backoff level)', async () => {
    const { app, clock } = presetApp(rubygems);
    const headers = await apiKeyOf(`acct-${crypto.randomUUID()}`);
    const start = Math.floor((T0 + 3 * 90_000_000) / 90_000_000) * 90_000_000;
    clock.set(start);
    const push = { ip: freshIp(), method: 'POST', headers };
    expect(await paced(app, clock, 300, '/api/v1/gems?status=422', push)).toEqual([[422, 300]]);
    clock.set(start + 300_000);
    expect(await paced(app, clock, 300, '/api/v1/gems?status=422', push)).toEqual([[422, 300]]);
    clock.set(start + 600_000);
    const refused = await call(app, '/api/v1/gems', push, env);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('Retry-After'))).toBe(90_000 - 600);
  });

  it('decides concurrent pushes exactly: at 395 of 400 successful, 5 of 20 concurrent pushes go through', async () => {
    const { app, clock } = presetApp(rubygems);
    const headers = await apiKeyOf(`acct-${crypto.randomUUID()}`);
    clock.set(T0 + 14_400_000 + 3_600_000);
    const push = { ip: freshIp(), method: 'POST', headers };
    expect(await paced(app, clock, 395, '/api/v1/gems', push)).toEqual([[200, 395]]);
    // Each push reserves before the origin answers, so twenty at once cannot overshoot the five left.
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => call(app, '/api/v1/gems', { ...push, ip: freshIp() }, env)));
    expect(runs(concurrent.map((r) => r.status).sort())).toEqual([
      [200, 5],
      [429, 15],
    ]);
  });

  it('refuses a push once 300 have failed within five minutes, whatever it would answer', async () => {
    const { app, clock } = presetApp(rubygems);
    const headers = await apiKeyOf(`acct-${crypto.randomUUID()}`);
    clock.set(T0 + 10_800_000);
    const push = { ip: freshIp(), method: 'POST', headers };
    expect(await paced(app, clock, 300, '/api/v1/gems?status=500', push)).toEqual([[500, 300]]);
    expect((await call(app, '/api/v1/gems', push, env)).status).toBe(429);
  });

  it('blackholes an address for an hour after 300 refusals within a minute (403)', async () => {
    const { app, clock } = presetApp(rubygems);
    const ip = freshIp();
    clock.set(T0 + 14_400_000);
    expect(runs(await statuses(app, 309, '/gems/rails', { ip }, env))).toEqual([
      [200, 10],
      [429, 299],
    ]);
    expect((await call(app, '/gems/rails', { ip }, env)).status).toBe(403);
    // The address is off the whole site: the compact index and sign-in too, which the 10 per second cap never sees.
    expect((await call(app, '/info/rails', { ip }, env)).status).toBe(403);
    expect((await call(app, '/session', { ip, method: 'POST' }, env)).status).toBe(403);
    expect((await call(app, '/info/rails', { ip: freshIp() }, env)).status).toBe(200);
    clock.advance(3_599_000);
    expect((await call(app, '/gems/rails', { ip }, env)).status).toBe(403);
    clock.advance(2_000);
    expect((await call(app, '/gems/rails', { ip }, env)).status).toBe(200);
    expect((await call(app, '/info/rails', { ip }, env)).status).toBe(200);
  });

  describe('Rails format suffixes (`(.:format)`): the same action, the same rules', () => {
    const compiled = compilePolicy(rubygems);
    const rulesOn = (method: string, path: string, tier = 'account') =>
      compiled.rules.filter((r) => r.matches({ method, host: 'rubygems.org', path: normalizePath(path), tier })).map((r) => r.name);
    const cases: Array<[string, string, string[]]> = [
      ['POST', '/api/v1/gems', ['lb-ip', 'push']],
      ['POST', '/api/v1/gems.json', ['lb-ip', 'push']],
      ['POST', '/api/v1/gems.yaml', ['lb-ip', 'push']],
      ['POST', '/api/v1/gems/rails/owners.yaml', ['lb-ip', 'sensitive']],
      ['DELETE', '/api/v1/gems/rails/owners.json', ['lb-ip', 'sensitive']],
      ['DELETE', '/api/v1/gems/yank.json', ['lb-ip', 'sensitive']],
      ['GET', '/api/v1/api_key.yaml', ['lb-ip', 'sensitive']],
      ['GET', '/api/v1/multifactor_auth.json', ['lb-ip', 'sensitive']],
      ['POST', '/session.json', ['lb-ip', 'auth']],
      ['GET', '/sign_in.html', ['lb-ip', 'auth']],
      ['GET', '/versions.json', ['lb-index']],
      ['GET', '/names.txt', ['lb-index']],
      ['GET', '/api/v1/dependencies.json', ['lb-index']],
      ['GET', '/api/v1/dependencies.marshal', ['lb-index']],
      // Rails routes the dependency API in marshal and JSON only: any other suffix is an ordinary request.
      ['GET', '/api/v1/dependencies.yaml', ['lb-ip']],
      ['GET', '/api/v1/gems/rails.json', ['lb-ip']],
    ];
    // The auth-failures floor (our addition) meets every path; the table is about the provider's own rules.
    const providerRulesOn = (method: string, path: string) => rulesOn(method, path).filter((name) => name !== 'auth-failures');
    it.each(cases)('%s %s: %j', (method, path, expected) => {
      expect(providerRulesOn(method, path)).toEqual(expected);
    });

    it('meets the auth-failures floor on every one of these paths', () => {
      for (const [method, path] of cases) expect(rulesOn(method, path)).toContain('auth-failures');
    });

    it('counts pushes to /api/v1/gems, .json and .yaml toward one cap', async () => {
      const capped: Policy = {
        ...rubygems,
        rules: rubygems.rules.map((r) => (r.name === 'push' ? { ...r, limits: r.limits.map((l) => ({ ...l, limit: 2 })) } : r)),
      };
      const { app, clock } = presetApp(capped);
      const headers = await apiKeyOf(`acct-${crypto.randomUUID()}`);
      clock.set(T0 + 21_600_000);
      const push = { ip: freshIp(), method: 'POST', headers };
      const out: number[] = [];
      for (const path of [
        '/api/v1/gems',
        '/api/v1/gems.json',
        '/api/v1/gems',
        '/api/v1/gems.json',
        '/api/v1/gems.yaml',
        '/API/V1/Gems.YAML',
      ]) {
        out.push((await call(app, path, push, env)).status);
        clock.advance(150);
      }
      expect(out).toEqual([200, 200, 429, 429, 429, 429]);
    });
  });
});
