import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { freshIp, limitedApp, manualClock, send } from '../../support/app';
import { countingNamespace } from '../counting-namespace';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 12 * 3_600_000;

const policy = {
  name: 'quota',
  quota: { path: '/.well-known/ratelimit' },
  identity: { credential: 'bearer' as const, defaultTier: 'token' },
  onError: { mode: 'open' as const, timeoutMs: 10_000 },
  rules: [
    {
      name: 'per-ip',
      match: { tiers: ['anonymous'] },
      key: 'ip' as const,
      limits: [
        { limit: 5, window: '1m' },
        { limit: 50, window: '1h' },
      ],
    },
    { name: 'writes', match: { methods: ['POST'], paths: ['/orders'] }, key: 'ip' as const, limits: [{ limit: 2, window: '1m' }] },
    {
      name: 'per-token',
      match: { tiers: ['token'] },
      key: 'bearer' as const,
      limits: [{ algorithm: 'gcra' as const, limit: 10, window: '1s', burst: 20 }],
    },
  ],
};

/** The `writes` limit as the quota endpoint reports it to a caller who has not posted an order: nothing used, no reset yet. */
const UNSPENT_WRITES = {
  rule: 'writes',
  name: '1m',
  policy: 'writes/1m',
  algorithm: 'fixed-window',
  limit: 2,
  windowSeconds: 60,
  used: 0,
  remaining: 2,
  resetAt: null,
};

async function quota(app: ReturnType<typeof limitedApp>['app'], ip: string, query = '', headers: Record<string, string> = {}) {
  const response = await send(app, `/.well-known/ratelimit${query}`, ip, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('Cache-Control')).toBe('no-store');
  return (await response.json()) as { policy: string; tier: string; limits: Array<Record<string, unknown>> };
}

describe('the self-service quota endpoint', () => {
  it('tells a caller its own remaining budgets and resets, without counting against them', async () => {
    const clock = manualClock(T0 + 10_000);
    const { app } = limitedApp({ policy, now: clock.now });
    const ip = freshIp();
    for (let i = 0; i < 3; i++) await (await send(app, '/items', ip)).arrayBuffer();
    for (let i = 0; i < 3; i++) {
      const report = await quota(app, ip);
      expect(report).toEqual({
        policy: 'quota',
        tier: 'anonymous',
        limits: [
          {
            rule: 'per-ip',
            name: '1m',
            policy: 'per-ip/1m',
            algorithm: 'fixed-window',
            limit: 5,
            windowSeconds: 60,
            used: 3,
            remaining: 2,
            resetAt: new Date(T0 + 60_000).toISOString(),
          },
          {
            rule: 'per-ip',
            name: '1h',
            policy: 'per-ip/1h',
            algorithm: 'fixed-window',
            limit: 50,
            windowSeconds: 3600,
            used: 3,
            remaining: 47,
            resetAt: new Date(T0 + 3_600_000).toISOString(),
          },
          UNSPENT_WRITES,
        ],
      });
    }
    // Asking did not spend anything: two requests remain.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(app, '/items', ip)).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('narrows to the rules one request would meet with ?method=&path=', async () => {
    const { app } = limitedApp({ policy, now: () => T0 + 20_000 });
    const report = await quota(app, freshIp(), '?method=post&path=/orders/');
    expect(report.limits.map((l) => `${l.rule}/${l.name}`)).toEqual(['per-ip/1m', 'per-ip/1h', 'writes/1m']);
    const reads = await quota(app, freshIp(), '?method=GET&path=/orders');
    expect(reads.limits.map((l) => `${l.rule}/${l.name}`)).toEqual(['per-ip/1m', 'per-ip/1h']);
  });

  it("shows only the caller's own keys: another address's spending is not visible", async () => {
    const { app } = limitedApp({ policy, now: () => T0 + 30_000 });
    const [spender, other] = [freshIp(), freshIp()];
    for (let i = 0; i < 4; i++) await (await send(app, '/items', spender)).arrayBuffer();
    expect((await quota(app, other)).limits[0]).toMatchObject({ used: 0, remaining: 5 });
    expect((await quota(app, spender)).limits[0]).toMatchObject({ used: 4, remaining: 1 });
  });

  it("answers a token holder for its token's bucket", async () => {
    const { app } = limitedApp({ policy, now: () => T0 + 40_000 });
    const report = await quota(app, freshIp(), '', { Authorization: `Bearer ${crypto.randomUUID()}` });
    expect(report.tier).toBe('token');
    expect(report.limits).toEqual([
      UNSPENT_WRITES,
      {
        rule: 'per-token',
        name: '1s',
        policy: 'per-token/1s',
        algorithm: 'gcra',
        limit: 20,
        windowSeconds: 1,
        used: 0,
        remaining: 20,
        resetAt: null,
      },
    ]);
  });

  it('costs a polling caller one object read per key a second, and shows new spending after that', async () => {
    const clock = manualClock(T0 + 50_000);
    const counting = countingNamespace(env.RATE_LIMITER);
    const { app } = limitedApp({ policy, now: clock.now });
    const bindings = { ...env, RATE_LIMITER: counting.namespace };
    const ip = freshIp();
    const used = async () => {
      const response = await send(app, '/.well-known/ratelimit', ip, {}, bindings);
      return ((await response.json()) as { limits: Array<{ used: number }> }).limits[0]!.used;
    };
    for (let i = 0; i < 20; i++) expect(await used()).toBe(0);
    // per-ip and writes share the address's object: one read for both, for all twenty polls.
    expect(counting.calls.inspect).toBe(1);
    await (await send(app, '/items', ip, {}, bindings)).arrayBuffer();
    clock.advance(1_000);
    expect(await used()).toBe(1);
    expect(counting.calls.inspect).toBe(2);
  });

  it('refuses a blocked caller with 403, as any other request', async () => {
    const { app } = limitedApp({ policy: { ...policy, block: { ips: ['198.51.100.0/24'] } }, now: () => T0 });
    const response = await send(app, '/.well-known/ratelimit', '198.51.100.77');
    expect(response.status).toBe(403);
    await response.arrayBuffer();
  });

  it('is on in the example policy, and off where the policy does not ask for it', async () => {
    const response = await exports.default.fetch('http://api.example.test/.well-known/ratelimit', {
      headers: { 'CF-Connecting-IP': freshIp() },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { policy: string }).policy).toBe('default');
    const { app } = limitedApp({ policy: { ...policy, quota: undefined }, now: () => T0 });
    const passed = await send(app, '/.well-known/ratelimit', freshIp());
    expect(passed.headers.get('x-demo-origin')).toBe('1');
    await passed.arrayBuffer();
  });
});
