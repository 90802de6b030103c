import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/http/middleware';
import type { PolicyInput } from '../../src/policy/schema';
import { countingNamespace } from './counting-namespace';

const policy = (limit: number, size: number): PolicyInput => ({
  name: 'hot',
  // Generous, so a slow test machine cannot time a lease out (its units would lapse unspent).
  onError: { mode: 'open', timeoutMs: 10_000 },
  rules: [{ name: 'per-ip', key: 'ip', lease: { size, ttl: '1s' }, limits: [{ limit, window: '1m' }] }],
});

/** One isolate: its own middleware (and so its own lease and deny caches) in front of the shared objects. */
function isolate(input: PolicyInput, now: () => number, coalesce = true) {
  const counting = countingNamespace(env.RATE_LIMITER);
  const hono = new Hono();
  // A test's requests share its context, so they may wait for each other as requests of one isolate do in production.
  hono.use('*', rateLimit({ now, policy: input, coalesce }));
  hono.get('*', (c) => c.text('ok'));
  const bindings = { ...env, RATE_LIMITER: counting.namespace };
  const get = (ip: string) => hono.request('http://api.example.test/x', { headers: { 'CF-Connecting-IP': ip } }, bindings);
  return { get, counting };
}

describe('hot-key leases', () => {
  it('admits exactly the limit with one object call per lease', async () => {
    const now = 1_800_000_000_000;
    const { get, counting } = isolate(policy(100, 10), () => now);
    const statuses: number[] = [];
    for (let i = 0; i < 1_000; i++) statuses.push((await get('198.51.100.7')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.slice(0, 100).every((s) => s === 200)).toBe(true);
    // A first lease of one unit (the isolate has not seen the key yet), nine of ten, the last nine units,
    // and one refused lease request; the deny cache answers the rest.
    expect(counting.calls).toEqual({ check: 0, lease: 12, release: 0, checkBatch: 0 });
  });

  it('admits exactly the limit to concurrent requests, asking the object one lease at a time', async () => {
    const now = 1_800_000_000_000;
    const { get, counting } = isolate(policy(100, 10), () => now);
    const responses = await Promise.all(Array.from({ length: 300 }, () => get('198.51.100.8')));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(100);
    expect(counting.calls.check).toBe(0);
    expect(counting.calls.lease).toBe(12);
  });

  it('admits exactly the limit to concurrent clients where requests do not wait for each other (the default)', async () => {
    const now = 1_800_000_000_000;
    const { get, counting } = isolate(policy(500, 64), () => now, false);
    // 64 clients, 24 requests each: a request that finds another fetching the lease asks the object itself,
    // and a refusal it gets there must not strand the units this isolate still holds.
    const client = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) statuses.push((await get('198.51.100.13')).status);
      return statuses;
    };
    const statuses = (await Promise.all(Array.from({ length: 64 }, client))).flat();
    expect(statuses.filter((s) => s === 200)).toHaveLength(500);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(counting.calls.lease).toBeGreaterThan(0);
  });

  it('tops a lease up before it runs out, so concurrent requests keep spending locally', async () => {
    const now = 1_800_000_000_000;
    const { get, counting } = isolate(policy(100_000, 20), () => now, false);
    // The first two requests fetch the first leases (one unit, then the rule's size); then waves of 8 at once.
    const statuses = [(await get('198.51.100.14')).status, (await get('198.51.100.14')).status];
    for (let wave = 0; wave < 25; wave++)
      statuses.push(...(await Promise.all(Array.from({ length: 8 }, () => get('198.51.100.14')))).map((r) => r.status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(202);
    // Without the top-up, requests that find the lease spent while it is being fetched ask the object themselves.
    expect(counting.calls.check).toBe(0);
    expect(counting.calls.lease).toBeLessThanOrEqual(1 + Math.ceil(201 / 20) + 1);
  });

  it('answers the request that starts a top-up without waiting for it: the top-up finishes after the response', async () => {
    const now = 1_800_000_000_000;
    const counting = countingNamespace(env.RATE_LIMITER);
    // Lease calls wait at a gate while it is closed; the object answers them once it opens.
    let gate: Promise<void> | undefined;
    let open = () => {};
    const finished = { lease: 0 };
    const gated = {
      getByName(name: string) {
        const stub = counting.namespace.getByName(name);
        return {
          ...stub,
          lease: async (request: Parameters<NonNullable<typeof stub.lease>>[0]) => {
            const answer = stub.lease!(request);
            await gate;
            finished.lease++;
            return answer;
          },
        };
      },
    };
    const hono = new Hono();
    hono.use('*', rateLimit({ now: () => now, policy: policy(1_000, 20), coalesce: false }));
    hono.get('*', (c) => c.text('ok'));
    const bindings = { ...env, RATE_LIMITER: gated };
    const afterResponse: Array<Promise<unknown>> = [];
    const ctx = { waitUntil: (work: Promise<unknown>) => void afterResponse.push(work), passThroughOnException: () => {}, props: {} };
    const get = () =>
      hono.request(
        'http://api.example.test/x',
        { headers: { 'CF-Connecting-IP': '198.51.100.16' } },
        bindings,
        ctx as unknown as ExecutionContext,
      );

    // A first lease of one unit, then one sized to the pace.
    for (let i = 0; i < 2; i++) expect((await get()).status).toBe(200);
    expect(finished.lease).toBe(2);
    gate = new Promise((resolve) => (open = resolve));
    // Spending the lease down past half starts a top-up, which waits at the gate; every request is answered meanwhile.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get()).status);
    expect(statuses).toEqual(Array(8).fill(200));
    expect(counting.calls.lease).toBe(3);
    expect(finished.lease).toBe(2);
    open();
    await Promise.all(afterResponse);
    expect(finished.lease).toBe(3);
    // The topped-up lease serves the next requests, beyond what was left of the one before.
    for (let i = 0; i < 10; i++) expect((await get()).status).toBe(200);
    expect(counting.calls.check).toBe(0);
  });

  it('shows headers from the lease: remaining counts down locally', async () => {
    const now = 1_800_000_000_000;
    const { get } = isolate(policy(100, 10), () => now);
    const remaining = [];
    for (let i = 0; i < 3; i++) remaining.push((await get('198.51.100.9')).headers.get('RateLimit'));
    expect(remaining).toEqual(['"per-ip/1m";r=99;t=60', '"per-ip/1m";r=98;t=60', '"per-ip/1m";r=97;t=60']);
  });

  it('never admits more than the limit across isolates; unspent budget returns when its isolate asks again', async () => {
    let now = 1_800_000_000_000;
    const a = isolate(policy(20, 10), () => now);
    const b = isolate(policy(20, 10), () => now);
    // b's first lease is one unit, its second the rule's ten: b holds 9 unspent units.
    for (let i = 0; i < 2; i++) expect((await b.get('198.51.100.10')).status).toBe(200);
    let admittedA = 0;
    for (let i = 0; i < 30; i++) admittedA += (await a.get('198.51.100.10')).status === 200 ? 1 : 0;
    expect(admittedA).toBe(9); // b's 9 units are not available to a
    now += 1_000; // b's lease has expired
    let admittedB = 0;
    for (let i = 0; i < 30; i++) admittedB += (await b.get('198.51.100.10')).status === 200 ? 1 : 0;
    expect(2 + admittedA + admittedB).toBe(20);
    expect(b.counting.calls.lease).toBeGreaterThanOrEqual(2);
  });

  it("sizes leases to each isolate's pace: isolates that see a key once hold nothing back from the one busy on it", async () => {
    const now = 1_800_000_000_000;
    // Ten isolates see the key once each; with leases of the rule's size, two of them would hold the whole limit.
    const passers = Array.from({ length: 10 }, () => isolate(policy(20, 10), () => now));
    for (const p of passers) expect((await p.get('198.51.100.15')).status).toBe(200);
    const busy = isolate(policy(20, 10), () => now);
    let admitted = 0;
    for (let i = 0; i < 30; i++) admitted += (await busy.get('198.51.100.15')).status === 200 ? 1 : 0;
    expect(admitted).toBe(10);
    for (const p of passers) expect(p.counting.calls.lease).toBe(1);
  });

  it('keeps exact mode for rules without a lease', async () => {
    const now = 1_800_000_000_000;
    const { get, counting } = isolate(
      { name: 'exact', rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 100, window: '1m' }] }] },
      () => now,
    );
    for (let i = 0; i < 20; i++) await get('198.51.100.11');
    expect(counting.calls).toEqual({ check: 20, lease: 0, release: 0, checkBatch: 0 });
  });

  it('exact mode: concurrent requests to one key share calls, and exactly the limit is admitted', async () => {
    const now = 1_800_000_000_000;
    const exact: PolicyInput = {
      name: 'exact',
      onError: { mode: 'open', timeoutMs: 10_000 },
      rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 100, window: '1m' }] }],
    };
    const { get, counting } = isolate(exact, () => now);
    const responses = await Promise.all(Array.from({ length: 300 }, () => get('198.51.100.12')));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(100);
    const calls = counting.calls.check! + counting.calls.checkBatch!;
    expect(counting.calls.checkBatch).toBeGreaterThan(0);
    expect(calls).toBeLessThan(300);
  });
});
