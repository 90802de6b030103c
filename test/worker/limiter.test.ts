import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { KeyLimiter } from '../../src/protocol/key-limiter';
import { keyLimiterFrom } from '../../src/protocol/stand-in';
import { freshIp, limitedApp, manualClock, send } from '../support/app';
import { countingNamespace } from './counting-namespace';

// A minute boundary two days ahead of the real clock, so the objects' clean-up alarms cannot fire during a test.
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 12 * 3_600_000;

describe('the standalone worker with the example policy', () => {
  it('answers 200s until the per-IP limit, then 429 with Retry-After, headers and a problem body', async () => {
    const ip = freshIp();
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 11; i++) {
      last = await exports.default.fetch('http://api.example.test/items', { headers: { 'CF-Connecting-IP': ip } });
      statuses.push(last.status);
      if (i < 10) expect(last.headers.get('X-RateLimit-Remaining')).toBe(String(9 - i));
    }
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
    const retryAfter = Number(last!.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get('Content-Type')).toBe('application/problem+json');
    expect(last!.headers.get('RateLimit-Policy')).toBe('"per-ip/1m";q=10;w=60');
    expect(last!.headers.get('RateLimit')).toBe(`"per-ip/1m";r=0;t=${retryAfter}`);
    expect(await last!.json()).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Too many requests',
      status: 429,
      detail: `Rate limit exceeded. Retry in ${retryAfter} seconds.`,
      'violated-policies': ['per-ip/1m'],
    });
  });

  it('keeps clients apart: another address still gets its full budget', async () => {
    const [a, b] = [freshIp(), freshIp()];
    for (let i = 0; i < 10; i++) await exports.default.fetch('http://api.example.test/', { headers: { 'CF-Connecting-IP': a } });
    const other = await exports.default.fetch('http://api.example.test/', { headers: { 'CF-Connecting-IP': b } });
    expect(other.status).toBe(200);
    expect(other.headers.get('X-RateLimit-Remaining')).toBe('9');
  });
});

describe('exact headers with a pinned clock', () => {
  const policy = {
    name: 'exact',
    response: {
      headers: ['ietf', 'x-ratelimit', 'x-ratelimit-count', 'x-ratelimit-window'] as const,
      body: 'detail' as const,
      message: 'Slow down; retry in {retryAfter}s.',
    },
    rules: [
      {
        name: 'api',
        key: 'ip' as const,
        limits: [
          { limit: 3, window: '1m' },
          { limit: 5, window: '1h' },
        ],
      },
    ],
  };

  it('reports every limit in the IETF fields and the nearest one in X-RateLimit-*', async () => {
    const clock = manualClock(T0 + 15_000);
    const { app } = limitedApp({
      policy: { ...policy, response: { ...policy.response, headers: [...policy.response.headers] } },
      now: clock.now,
    });
    const ip = freshIp();
    const first = await send(app, '/a', ip);
    expect(Object.fromEntries([...first.headers].filter(([k]) => k.includes('ratelimit')))).toEqual({
      'ratelimit-policy': '"api/1m";q=3;w=60, "api/1h";q=5;w=3600',
      ratelimit: '"api/1m";r=2;t=45, "api/1h";r=4;t=3585',
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': String((T0 + 60_000) / 1000),
      'x-ratelimit-count': '1',
      'x-ratelimit-window': '1m',
    });
    await send(app, '/a', ip);
    await send(app, '/a', ip);
    const refused = await send(app, '/a', ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('45');
    expect(refused.headers.get('X-RateLimit-Window')).toBe('1m');
    expect(refused.headers.get('X-RateLimit-Remaining')).toBe('0');
    expect(await refused.json()).toEqual({ detail: 'Slow down; retry in 45s.' });

    // The minute rolls over: admitted again, and now the hour is nearest its limit (4 of 5 used).
    clock.set(T0 + 60_000);
    const next = await send(app, '/a', ip);
    expect(next.status).toBe(200);
    expect(next.headers.get('X-RateLimit-Window')).toBe('1h');
    expect(next.headers.get('X-RateLimit-Remaining')).toBe('1');
    expect(next.headers.get('X-RateLimit-Count')).toBe('4');
  });
});

describe('atomic admission under concurrency', () => {
  for (const algorithm of ['fixed-window', 'sliding-window', 'gcra'] as const) {
    it(`${algorithm}: 200 concurrent requests on one key with limit 100 admit exactly 100`, async () => {
      const { app } = limitedApp({
        // A generous timeout: this asserts atomic admission, and a busy machine must not turn a decision into a fail-open.
        policy: {
          name: `concurrency-${algorithm}`,
          onError: { mode: 'open', timeoutMs: 10_000 },
          rules: [{ name: 'one-key', key: { const: `concurrency-${algorithm}` }, limits: [{ algorithm, limit: 100, window: '1h' }] }],
        },
        now: () => T0 + 1000,
      });
      const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => send(app, `/c/${i}`, freshIp())));
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(100);
      expect(statuses.filter((s) => s === 429)).toHaveLength(100);
    });
  }
});

describe('the key object', () => {
  const policy = { name: 'durable', rules: [{ name: 'd', key: 'ip' as const, limits: [{ limit: 5, window: '1m' }] }] };

  it('keeps counting where it was after the object is evicted', async () => {
    const { app } = limitedApp({ policy, now: () => T0 + 2000, denyCache: false });
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await send(app, '/', ip)).status).toBe(200);
    const stub = env.RATE_LIMITER.getByName(`ip=${ip}`);
    await runInDurableObject(stub, (_instance, state) => {
      expect([...state.storage.kv.list({ prefix: 'limit:' })]).toHaveLength(1);
    });
    // Abort the instance: the next call meets a new one that has only storage to go on.
    await expect(runInDurableObject(stub, (_i, state) => state.abort('evicted'))).rejects.toThrow();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(app, '/', ip)).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('deletes every row once all windows have expired, and keeps live ones', async () => {
    const ip = freshIp();
    const stub = env.RATE_LIMITER.getByName(`ip=${ip}`);
    // Counted an hour ago with a one-minute window: expired now.
    const past = limitedApp({ policy, now: () => Date.now() - 3_600_000 });
    expect((await send(past.app, '/', ip)).status).toBe(200);
    // The alarm was set in the past, so it may already have run; run it if not.
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, async (_i, state) => {
      expect([...state.storage.kv.list()]).toEqual([]);
      expect(await state.storage.getAlarm()).toBeNull();
    });
    // Running the alarm again changes nothing (alarms may be delivered twice).
    expect(await runDurableObjectAlarm(stub)).toBe(false);

    // Counted in a window that ends in the future: the row stays and the alarm is rescheduled.
    const future = limitedApp({ policy, now: () => Date.now() + 3_600_000 });
    expect((await send(future.app, '/', ip)).status).toBe(200);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, async (_i, state) => {
      expect([...state.storage.kv.list({ prefix: 'limit:' })]).toHaveLength(1);
      expect(await state.storage.getAlarm()).toBeGreaterThan(Date.now());
    });
  });
});

describe('rules with different keys', () => {
  it.each([
    [false, '"by-ip/1m";r=8;t=60'],
    [true, '"by-ip/1m";r=5;t=60'],
  ])(
    'a request refused under one key is counted under another only by rules that count refusals (countRefused: %s)',
    async (countRefused, expected) => {
      const { app } = limitedApp({
        now: () => T0,
        policy: {
          name: 'two-keys',
          onError: { mode: 'open', timeoutMs: 10_000 },
          rules: [
            { name: 'by-ip', key: 'ip', countRefused, limits: [{ limit: 10, window: '1m' }] },
            {
              name: 'everyone',
              match: { paths: ['/scarce'] },
              key: { const: `scarce-${crypto.randomUUID()}` },
              limits: [{ limit: 1, window: '1m' }],
            },
          ],
        },
      });
      const ip = freshIp();
      expect((await send(app, '/scarce', ip)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await send(app, '/scarce', ip)).status).toBe(429);
      // One admitted and three refused requests, then this one: 2 counted per IP without countRefused, 5 with it.
      const other = await send(app, '/other', ip);
      expect(other.status).toBe(200);
      expect(other.headers.get('RateLimit')).toBe(expected);
    },
  );

  it('once one key is known refused in the isolate, keys that need not see refusals are not asked at all', async () => {
    const counting = countingNamespace(env.RATE_LIMITER);
    const { app } = limitedApp({
      now: () => T0,
      policy: {
        name: 'flooded',
        onError: { mode: 'open', timeoutMs: 10_000 },
        rules: [
          { name: 'by-ip', key: 'ip', limits: [{ limit: 1, window: '1m' }] },
          { name: 'by-token', key: 'bearer', limits: [{ limit: 100, window: '1m' }] },
        ],
      },
    });
    const bindings = { ...env, RATE_LIMITER: counting.namespace };
    const ip = freshIp();
    const token = { Authorization: `Bearer ${crypto.randomUUID()}` };
    const statuses = [];
    for (let i = 0; i < 50; i++) {
      const response = await send(app, '/x', ip, { headers: token }, bindings);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, ...Array(49).fill(429)]);
    // Both keys asked twice (the admission, then the refusal that filled the deny cache, given back on the token's key);
    // the 48 refusals after it cost no object call.
    expect(counting.calls).toEqual({ check: 4, lease: 0, release: 1, checkBatch: 0 });
    const other = await send(app, '/x', freshIp(), { headers: token }, bindings);
    expect(other.headers.get('RateLimit')).toContain('"by-token/1m";r=98');
  });

  it('ask their objects in parallel, not one after another', async () => {
    const events: string[] = [];
    const slowStub = (name: string): KeyLimiter =>
      keyLimiterFrom({
        async check(request) {
          events.push(`start ${name}`);
          await new Promise((r) => setTimeout(r, 20));
          events.push(`end ${name}`);
          return {
            allowed: true,
            outcomes: request.limits.map((l) => ({
              id: l.id,
              shadow: false,
              counted: true,
              decision: { allowed: true, limit: 1, used: 1, remaining: 0, resetAt: 0, retryAfterMs: 0 },
            })),
          };
        },
        release() {},
        charge() {},
      });
    const fakeBinding = { getByName: (name: string) => slowStub(name) };
    const { app } = limitedApp({
      policy: {
        name: 'parallel',
        onError: { mode: 'open', timeoutMs: 1000 },
        rules: [
          { name: 'by-ip', key: 'ip', limits: [{ limit: 10, window: '1m' }] },
          { name: 'everyone', key: { const: 'everyone' }, limits: [{ limit: 10, window: '1m' }] },
        ],
      },
    });
    const response = await send(app, '/', freshIp(), {}, { ...env, RATE_LIMITER: fakeBinding });
    expect(response.status).toBe(200);
    expect(events.slice(0, 2).every((e) => e.startsWith('start'))).toBe(true);
  });
});

describe('when the key object fails', () => {
  const failing = { getByName: () => ({ check: () => Promise.reject(new Error('object exploded')), release: () => undefined }) };
  const rule = (mode: 'open' | 'closed') => ({
    name: `fault-${mode}`,
    rules: [{ name: 'r', key: 'ip' as const, onError: { mode, timeoutMs: 50 }, limits: [{ limit: 1, window: '1m' }] }],
  });

  it('fails open: the request reaches the origin, and the event is counted', async () => {
    const { app, limiter } = limitedApp({ policy: rule('open') });
    const response = await send(app, '/open', freshIp(), {}, { ...env, RATE_LIMITER: failing });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ origin: 'demo', path: '/open' });
    expect(limiter.handle.metrics.snapshot().counts.r).toEqual({ fail_open: 1 });
  });

  it('fails closed: 503 with Retry-After, and the origin is not asked', async () => {
    const { app, limiter } = limitedApp({ policy: rule('closed') });
    const response = await send(app, '/closed', freshIp(), {}, { ...env, RATE_LIMITER: failing });
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('1');
    expect(response.headers.get('x-demo-origin')).toBeNull();
    expect(limiter.handle.metrics.snapshot().counts.r).toEqual({ fail_closed: 1 });
  });

  it('fails open when the object does not answer within the timeout', async () => {
    const hanging = { getByName: () => ({ check: () => new Promise(() => {}), release: () => undefined }) };
    const { app } = limitedApp({ policy: rule('open') });
    const response = await send(app, '/slow', freshIp(), {}, { ...env, RATE_LIMITER: hanging });
    expect(response.status).toBe(200);
  });
});

describe('dodges that must not work', () => {
  const policy = {
    name: 'paths',
    rules: [
      { name: 'x', match: { paths: ['/x'] }, key: 'ip' as const, limits: [{ limit: 1, window: '1h' }] },
      { name: 'ab', match: { paths: ['/a/b'] }, key: 'ip' as const, limits: [{ limit: 1, window: '1h' }] },
    ],
  };

  it.each([['/x/'], ['//x'], ['/a/../x'], ['/%78'], ['/X'], ['/./x'], ['/%2578'], [`/x?pad=${'p'.repeat(500)}`]])(
    '%s shares the budget of /x',
    async (disguise) => {
      const { app } = limitedApp({ policy, now: () => T0 });
      const ip = freshIp();
      expect((await send(app, '/x', ip)).status).toBe(200);
      expect((await send(app, disguise, ip)).status).toBe(429);
    },
  );

  it('an encoded slash shares the budget of the real path', async () => {
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    expect((await send(app, '/a/b', ip)).status).toBe(200);
    expect((await send(app, '/a%2Fb', ip)).status).toBe(429);
  });

  it('forwarding headers do not change the client address', async () => {
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    expect((await send(app, '/x', ip)).status).toBe(200);
    for (const header of ['X-Forwarded-For', 'X-Real-IP', 'True-Client-IP']) {
      const spoofed = await send(app, '/x', ip, { headers: { [header]: freshIp() } });
      expect(spoofed.status, header).toBe(429);
    }
  });

  it('IPv6 addresses in one /64 share a budget', async () => {
    const { app } = limitedApp({ policy, now: () => T0 });
    expect((await send(app, '/x', '2001:db8:77:1::1')).status).toBe(200);
    expect((await send(app, '/x', '2001:db8:77:1:ffff:1234:5678:9abc')).status).toBe(429);
    expect((await send(app, '/x', '2001:db8:77:2::1')).status).toBe(200);
  });
});
