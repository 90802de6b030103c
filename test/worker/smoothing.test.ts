import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { checkLimit } from '../../src/engine/check-limit';
import { rateLimit } from '../../src/http/middleware';
import type { PolicyInput } from '../../src/policy/schema';
import { manualClock } from '../support/app';
import { countingNamespace } from './counting-namespace';

/** 10 a second (one every 100 ms) per client address, at most 2 at once; waits of up to 500 ms, at most `maxQueued` waiting. */
const policy = (maxQueued: number): PolicyInput => ({
  name: 'smooth',
  // Generous, so a slow test machine cannot time an object call out.
  onError: { mode: 'open', timeoutMs: 10_000 },
  rules: [
    {
      name: 'paced',
      key: 'ip',
      limits: [{ name: 'pace', algorithm: 'gcra', limit: 10, window: '1s', burst: 2 }],
      smooth: { maxWait: '500ms', maxQueued },
    },
  ],
});

const START = 1_900_000_000_000;

/** One isolate: its own middleware (and so its own queues) in front of the shared objects, and an origin that notes what reaches it. */
function isolate(input: PolicyInput, now: () => number) {
  const counting = countingNamespace(env.RATE_LIMITER);
  const reached: Array<{ id: string; delayMs: number; at: number }> = [];
  const hono = new Hono();
  const middleware = rateLimit({ now, policy: input });
  hono.use('*', middleware);
  hono.get('*', (c) => {
    reached.push({ id: c.req.header('X-Request') ?? '', delayMs: c.get('rateLimit').delayMs ?? 0, at: Date.now() });
    return c.text('ok');
  });
  const bindings = { ...env, RATE_LIMITER: counting.namespace };
  const get = (ip: string, id = '') =>
    hono.request('http://api.example.test/x', { headers: { 'CF-Connecting-IP': ip, 'X-Request': id } }, bindings);
  return { get, reached, counting, metrics: middleware.handle.metrics };
}

const burst = (get: (ip: string, id: string) => Response | Promise<Response>, ip: string, n: number) =>
  Promise.all(Array.from({ length: n }, (_, i) => get(ip, String(i))));

describe('smoothing instead of refusing', () => {
  it('holds a burst beyond the allowance and lets it through one interval apart, in order, each within its bound', async () => {
    const clock = manualClock(START);
    const { get, reached } = isolate(policy(10), clock.now);
    const started = Date.now();
    const responses = await burst(get, '198.51.100.20', 7);
    expect(responses.map((r) => r.status)).toEqual(Array(7).fill(200));
    // Two at once (the burst), then one every 100 ms up to the 500 ms bound.
    expect(reached.map((r) => r.delayMs).sort((a, b) => a - b)).toEqual([0, 0, 100, 200, 300, 400, 500]);
    // The origin saw them in the order of their waits, none before its wait was over.
    const byArrival = [...reached].sort((a, b) => a.at - b.at);
    expect(byArrival.map((r) => r.delayMs)).toEqual([0, 0, 100, 200, 300, 400, 500]);
    for (const r of reached) expect(r.at - started).toBeGreaterThanOrEqual(r.delayMs - 5);
  });

  it('refuses as before, with the usual headers, a request whose wait would pass the bound', async () => {
    const clock = manualClock(START);
    const { get, reached } = isolate(policy(10), clock.now);
    const responses = await burst(get, '198.51.100.21', 8);
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(reached).toHaveLength(7);
    const refused = responses.find((r) => r.status === 429)!;
    // Its turn would have come 600 ms on: the next whole second.
    expect(refused.headers.get('Retry-After')).toBe('1');
    expect(refused.headers.get('RateLimit')).toBe('"paced/pace";r=0;t=1');
    expect(refused.headers.get('RateLimit-Reason')).toBe('rate');
  });

  it('holds at most maxQueued requests per key in an isolate and refuses the rest, giving back what the object reserved for them', async () => {
    const clock = manualClock(START);
    const { get, reached, counting, metrics } = isolate(policy(3), clock.now);
    const responses = await burst(get, '198.51.100.22', 8);
    const statuses = responses.map((r) => r.status);
    // Two at once, three held (the queue's bound, though the 500 ms bound would take five), three refused.
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect(reached.map((r) => r.delayMs).sort((a, b) => a - b)).toEqual([0, 0, 100, 200, 300]);
    for (const r of responses.filter((x) => x.status === 429)) {
      expect(Number(r.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      expect(r.headers.get('RateLimit')).toMatch(/^"paced\/pace";r=0;t=\d+$/);
    }
    // The requests refused for a full queue gave their reservations back: the key is paced for the five let through.
    const snapshot = await env.RATE_LIMITER.getByName('ip=198.51.100.22').inspect(START);
    expect(snapshot.limits[0]!.decision.resetAt).toBe(START + 500);
    expect(counting.calls.release).toBeGreaterThanOrEqual(1);
    // Counted as what they were: five let through, three refused (two for the full queue, one for a wait past the bound).
    expect(metrics.snapshot().counts.paced).toMatchObject({ allowed: 5, refused: 3 });
  });

  it('frees a place when its wait is over by the request clock, even without the request coming back', async () => {
    const clock = manualClock(START);
    const { get } = isolate(policy(1), clock.now);
    const first = await burst(get, '198.51.100.23', 3);
    expect(first.map((r) => r.status)).toEqual([200, 200, 200]);
    // The queue of one is full until START + 100: a request now may not wait, and is refused.
    expect((await get('198.51.100.23')).status).toBe(429);
    clock.set(START + 150);
    // Its place is free: this one waits its turn (50 ms) instead.
    expect((await get('198.51.100.23')).status).toBe(200);
  });

  it('does not let a remembered refusal outlast the time from which a request could wait its way in', async () => {
    const clock = manualClock(START);
    const { get, counting } = isolate(policy(10), clock.now);
    const responses = await burst(get, '198.51.100.24', 8);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(1);
    // Refused at START with a wait of 600 ms: from START + 100 a request waits 500 ms, within the bound.
    clock.set(START + 50);
    const checks = counting.calls.check ?? 0;
    expect((await get('198.51.100.24')).status).toBe(429);
    expect(counting.calls.check).toBe(checks);
    clock.set(START + 100);
    const held = await get('198.51.100.24');
    expect(held.status).toBe(200);
    expect(counting.calls.check).toBe(checks + 1);
  });

  it('describes a held response as of when it was let through', async () => {
    const clock = manualClock(START);
    const { get } = isolate(policy(10), clock.now);
    const responses = await burst(get, '198.51.100.25', 3);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    // Each says the bucket is empty and whole again 200 ms after it got through (two intervals of debt).
    for (const r of responses.slice(1)) expect(r.headers.get('RateLimit')).toBe('"paced/pace";r=0;t=1');
    expect(responses[0]!.headers.get('RateLimit')).toBe('"paced/pace";r=1;t=1');
  });

  it('waits for the longer of two keys that each delay the request', async () => {
    const clock = manualClock(START);
    const input: PolicyInput = {
      name: 'two-keys',
      onError: { mode: 'open', timeoutMs: 10_000 },
      rules: [
        {
          name: 'per-ip',
          key: 'ip',
          limits: [{ algorithm: 'gcra', limit: 10, window: '1s', burst: 1 }],
          smooth: { maxWait: '1s', maxQueued: 5 },
        },
        {
          name: 'per-tenant',
          key: { header: 'X-Tenant' },
          limits: [{ algorithm: 'gcra', limit: 4, window: '1s', burst: 1 }],
          smooth: { maxWait: '1s', maxQueued: 5 },
        },
      ],
    };
    const hono = new Hono();
    const seen: number[] = [];
    hono.use('*', rateLimit({ now: clock.now, policy: input }));
    hono.get('*', (c) => {
      seen.push(c.get('rateLimit').delayMs ?? 0);
      return c.text('ok');
    });
    const send = () =>
      hono.request('http://api.example.test/x', { headers: { 'CF-Connecting-IP': '198.51.100.26', 'X-Tenant': 't-26' } }, env);
    const statuses = (await Promise.all([send(), send(), send()])).map((r) => r.status);
    expect(statuses).toEqual([200, 200, 200]);
    // The address alone would let them through 100 ms apart; the tenant, 250 ms apart: they wait for the tenant.
    expect(seen.sort((a, b) => a - b)).toEqual([0, 250, 500]);
  });

  it('holds a checkLimit call the same way, and says how long', async () => {
    const rules = [
      {
        name: 'jobs',
        limits: [{ algorithm: 'gcra' as const, limit: 10, window: '1s', burst: 1 }],
        smooth: { maxWait: '300ms', maxQueued: 5 },
      },
    ];
    const now = START + 10_000;
    const key = `tenant-${crypto.randomUUID()}`;
    const first = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now });
    const second = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now });
    expect([first.allowed, first.delayMs]).toEqual([true, undefined]);
    expect([second.allowed, second.delayMs]).toEqual([true, 100]);
  });
});
