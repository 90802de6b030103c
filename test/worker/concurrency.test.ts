import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { LimitRequest } from '../../src/algorithms/decide';
import { forwardToOrigin } from '../../src/http/forward';
import { rateLimit } from '../../src/http/middleware';
import type { PolicyInput } from '../../src/policy/schema';
import { ipKey } from '../../src/request/client-ip';
import { freshIp, from } from './faults/harness';

const T0 = 1_800_000_000_000;
const LEASE = 30_000;

const policy: PolicyInput = {
  name: 'concurrency',
  onError: { mode: 'closed', timeoutMs: 10_000 },
  rules: [
    {
      name: 'reports',
      key: 'ip',
      limits: [
        { limit: 5, window: '1h' },
        { algorithm: 'concurrency', limit: 2, slotLease: LEASE },
      ],
    },
  ],
};

/**
 * An app with the middleware in front of an origin whose answers the test
 * holds open: each admitted request gets a body stream the test ends,
 * fails, or leaves open. `/fail` throws in the handler; `/down` forwards to
 * an origin that cannot be reached. The clock is the test's.
 */
function slowApp() {
  let clock = T0;
  const bodies: Array<WritableStreamDefaultWriter<Uint8Array>> = [];
  const app = new Hono();
  app.use('*', rateLimit({ policy, denyCache: false, now: () => clock }));
  app.get('/fail', () => {
    throw new Error('origin handler failed');
  });
  app.get('/down', (c) => forwardToOrigin(c, { originUrl: 'http://127.0.0.1:1', timeoutMs: 1000 }));
  app.get('*', () => {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    void writer.write(new TextEncoder().encode('first part;'));
    bodies.push(writer);
    return new Response(readable, { headers: { 'content-type': 'text/plain' } });
  });
  app.onError(() => new Response('origin failed', { status: 500 }));
  const work = new WeakMap<Response, Array<Promise<unknown>>>();
  return {
    bodies,
    set now(at: number) {
      clock = at;
    },
    async request(path: string, ip: string): Promise<Response> {
      const pending: Array<Promise<unknown>> = [];
      const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {}, props: {} };
      const init = from(ip);
      const response = await app.request(`http://api.example.test${path}`, init, env as never, ctx as unknown as ExecutionContext);
      work.set(response, pending);
      return response;
    },
    /** Waits for the work the middleware handed to `waitUntil` for this response (its slot release among it). */
    async settled(response: Response): Promise<void> {
      await Promise.all(work.get(response) ?? []);
    },
  };
}

async function inFlight(ip: string): Promise<{ slots: number; window: number }> {
  const stub = env.RATE_LIMITER.getByName(`ip=${ipKey(ip, { ipv4Prefix: 32, ipv6Prefix: 64 })}`);
  const snapshot = await stub.inspect(T0);
  const used = (id: string) => snapshot.limits.find((l) => l.id === id)?.decision.used ?? 0;
  return { slots: used('reports/concurrent'), window: used('reports/1h') };
}

describe('concurrency limits in the key object', () => {
  const window: LimitRequest = {
    id: 'r/1m',
    config: { algorithm: 'fixed-window', limit: 1, windowMs: 60_000 },
    cost: 1,
    countRefused: false,
    shadow: false,
  };
  const slots: LimitRequest = { ...window, id: 'r/concurrent', config: { algorithm: 'concurrency', limit: 1, windowMs: LEASE } };

  it('a refused window takes no slot, and a refused slot spends no window budget, in one step', async () => {
    const stub = env.RATE_LIMITER.getByName('concurrency-atomic');
    expect((await stub.check({ now: T0, limits: [window, slots] })).allowed).toBe(true);
    // The slot is held: the window must not be spent.
    const noSlot = await stub.check({ now: T0 + 1, limits: [{ ...window, config: { ...window.config, limit: 5 } }, slots] });
    expect(noSlot.allowed).toBe(false);
    expect(noSlot.outcomes.map((o) => o.counted)).toEqual([false, false]);
    await stub.release(T0 + 2, [{ id: slots.id, config: slots.config, cost: 1, countedAt: T0 }]);
    // The slot is free, the window (limit 1) is spent: no slot is taken.
    const noWindow = await stub.check({ now: T0 + 3, limits: [window, slots] });
    expect(noWindow.allowed).toBe(false);
    expect(noWindow.outcomes[1]).toMatchObject({ counted: false, decision: { allowed: true, used: 0 } });
    const snapshot = await stub.inspect(T0 + 3);
    expect(snapshot.limits.find((l) => l.id === 'r/concurrent')!.decision.used).toBe(0);
    expect(snapshot.limits.find((l) => l.id === 'r/1m')!.decision.used).toBe(1);
  });
});

describe('concurrency limits through the middleware', () => {
  it('holds a slot until the body has been streamed, refuses the third with a concurrency 429', async () => {
    const app = slowApp();
    const ip = freshIp();
    const [a, b] = [await app.request('/reports/a', ip), await app.request('/reports/b', ip)];
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get('RateLimit-Policy')).toBe('"reports/1h";q=5;w=3600, "reports/concurrent";q=2;qu="concurrent-requests"');
    expect(a.headers.get('RateLimit')).toBe('"reports/1h";r=4;t=3600, "reports/concurrent";r=1');
    expect(await inFlight(ip)).toEqual({ slots: 2, window: 2 });

    app.now = T0 + 100;
    const c = await app.request('/reports/c', ip);
    expect(c.status).toBe(429);
    expect(c.headers.get('RateLimit-Reason')).toBe('concurrency');
    expect(c.headers.get('RateLimit-Policy')).toContain('"reports/concurrent";q=2;qu="concurrent-requests"');
    // No hold seen yet: the first slot is expected back a second after it was taken.
    expect(c.headers.get('Retry-After')).toBe('1');
    expect(await inFlight(ip)).toEqual({ slots: 2, window: 2 });

    // The first response's headers arrived long ago; its slot is given back only when its body ends.
    app.now = T0 + 2000;
    void app.bodies[0]!.close();
    expect(await a.text()).toBe('first part;');
    await app.settled(a);
    expect(await inFlight(ip)).toEqual({ slots: 1, window: 2 });
    expect((await app.request('/reports/d', ip)).status).toBe(200);
    expect(await inFlight(ip)).toEqual({ slots: 2, window: 3 });

    // The object learnt a 2 s hold: a refusal now waits for the second slot, taken at T0, expected back at T0 + 2 s … overdue, so another 2 s.
    app.now = T0 + 2100;
    const e = await app.request('/reports/e', ip);
    expect(e.status).toBe(429);
    expect(e.headers.get('Retry-After')).toBe('2');
    await b.body!.cancel();
    await app.settled(b);
    expect(await inFlight(ip)).toEqual({ slots: 1, window: 3 });
  });

  it('gives the slot back when the client aborts mid-response', async () => {
    const app = slowApp();
    const ip = freshIp();
    const response = await app.request('/reports/a', ip);
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first part;');
    expect((await inFlight(ip)).slots).toBe(1);
    await reader.cancel('client went away');
    await app.settled(response);
    expect((await inFlight(ip)).slots).toBe(0);
  });

  it('gives the slot back when the origin handler throws', async () => {
    const app = slowApp();
    const ip = freshIp();
    const response = await app.request('/fail', ip);
    expect(response.status).toBe(500);
    await app.settled(response);
    // Released before the error body was read.
    expect(await inFlight(ip)).toEqual({ slots: 0, window: 1 });
  });

  it('gives the slot back when the origin cannot be reached (originFailed)', async () => {
    const app = slowApp();
    const ip = freshIp();
    const response = await app.request('/down', ip);
    expect(response.status).toBe(502);
    await app.settled(response);
    expect(await inFlight(ip)).toEqual({ slots: 0, window: 1 });
  });

  it('takes a slot back whose holder never released it once its lease ends', async () => {
    const app = slowApp();
    const ip = freshIp();
    // Two responses never read nor released, as if the isolate serving them died.
    expect((await app.request('/reports/a', ip)).status).toBe(200);
    expect((await app.request('/reports/b', ip)).status).toBe(200);
    app.now = T0 + LEASE - 1;
    expect((await app.request('/reports/c', ip)).status).toBe(429);
    app.now = T0 + LEASE;
    expect((await app.request('/reports/d', ip)).status).toBe(200);
    expect((await app.request('/reports/e', ip)).status).toBe(200);
    expect((await app.request('/reports/f', ip)).status).toBe(429);
  });

  it('a request refused by the window takes no slot', async () => {
    const app = slowApp();
    const ip = freshIp();
    for (let i = 0; i < 5; i++) {
      const response = await app.request(`/reports/${i}`, ip);
      expect(response.status).toBe(200);
      await response.body!.cancel();
      await app.settled(response);
    }
    const refused = await app.request('/reports/x', ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('RateLimit-Reason')).toBe('rate');
    expect(await inFlight(ip)).toEqual({ slots: 0, window: 5 });
  });
});

describe('concurrency limits through checkLimit', () => {
  it('takes a slot per admitted call and gives it back with release()', async () => {
    const { checkLimit } = await import('../../src/engine/check-limit');
    const rules = [{ name: 'jobs', limits: [{ algorithm: 'concurrency' as const, limit: 1 }] }];
    const key = `tenant-${crypto.randomUUID()}`;
    const first = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(first.allowed).toBe(true);
    const second = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 + 1 });
    expect(second).toMatchObject({ allowed: false, kind: 'limit' });
    await second.release(T0 + 2);
    await first.release(T0 + 500);
    const third = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 + 501 });
    expect(third.allowed).toBe(true);
    expect(third.limits[0]).toMatchObject({ policy: 'jobs/concurrent', used: 1, remaining: 0 });
  });
});
