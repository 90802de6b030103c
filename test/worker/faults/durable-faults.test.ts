import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeyRequest } from '../../../src/algorithms/decide';
import type { PolicyInput } from '../../../src/policy/schema';
import { ipKey } from '../../../src/request/client-ip';
import { captureLogs, freshIp, from, testApp } from './harness';

const HOUR = 3_600_000;

/** The object a client address is counted by under an `ip` rule with default prefixes. */
function ipObject(ip: string) {
  return env.RATE_LIMITER.getByName(`ip=${ipKey(ip, { ipv4Prefix: 32, ipv6Prefix: 64 })}`);
}

async function statusesOf(responses: Array<Response | Promise<Response>>): Promise<number[]> {
  return Promise.all(responses.map(async (r) => (await r).status));
}

function count(statuses: number[], status: number): number {
  return statuses.filter((s) => s === status).length;
}

describe('eviction in the middle of traffic', () => {
  let logs: ReturnType<typeof captureLogs>;
  beforeEach(() => (logs = captureLogs()));
  afterEach(() => logs.restore());

  const policy = (mode: 'open' | 'closed'): PolicyInput => ({
    name: 'evict',
    rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 25, window: '1h' }], onError: { mode, timeoutMs: 5000 } }],
  });

  it('counters survive graceful eviction and abort between waves: exactly the limit is admitted', async () => {
    const app = testApp(policy('closed'));
    const ip = freshIp();
    const stub = ipObject(ip);
    const wave = () => statusesOf(Array.from({ length: 10 }, () => app.request('/x', from(ip))));
    const first = await wave();
    await evictDurableObject(stub);
    const second = await wave();
    await expect(runInDurableObject(stub, (_i, state) => state.abort('restart'))).rejects.toThrow();
    const third = await wave();
    expect([count(first, 200), count(second, 200), count(third, 200)]).toEqual([10, 10, 5]);
    expect(count(third, 429)).toBe(5);
    // A stub that saw its object abort stays broken; callers take a new one.
    const snapshot = await ipObject(ip).inspect(Date.now());
    expect(snapshot.limits.map((l) => [l.id, l.decision.used])).toEqual([['per-ip/1h', 25]]);
  });

  it('eviction while requests are in flight loses no count: the stored count equals the admissions', async () => {
    const app = testApp(policy('closed'));
    const ip = freshIp();
    const stub = ipObject(ip);
    expect((await app.request('/x', from(ip))).status).toBe(200);
    const inFlight = Array.from({ length: 40 }, () => app.request('/x', from(ip)));
    const evicted = evictDurableObject(stub).catch(() => 'not running');
    const statuses = [200, ...(await statusesOf(inFlight))];
    await evicted;
    // Only admissions and refusals; a request cut off by the eviction would be a 503 (fail closed), never a 200.
    expect(statuses.every((s) => s === 200 || s === 429 || s === 503)).toBe(true);
    const admitted = count(statuses, 200);
    expect(admitted).toBeLessThanOrEqual(25);
    const used = (await stub.inspect(Date.now())).limits[0]!.decision.used;
    expect(used).toBe(admitted);
    // And the object carries on from that count.
    const after = await statusesOf(Array.from({ length: 30 }, () => app.request('/x', from(ip))));
    expect(count(after, 200)).toBe(25 - admitted);
  });

  it('an aborted object on a fail-open rule costs at most the requests it was holding', async () => {
    const app = testApp(policy('open'));
    const ip = freshIp();
    const stub = ipObject(ip);
    expect((await app.request('/x', from(ip))).status).toBe(200);
    const inFlight = Array.from({ length: 40 }, () => app.request('/x', from(ip)));
    const aborted = runInDurableObject(stub, (_i, state) => state.abort('crash')).catch(() => 'aborted');
    const statuses = [200, ...(await statusesOf(inFlight))];
    await aborted;
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const used = (await ipObject(ip).inspect(Date.now())).limits[0]!.decision.used;
    // Requests the crash cut off were let through uncounted (fail open); everything counted stayed counted.
    expect(used).toBeLessThanOrEqual(25);
    expect(used).toBeLessThanOrEqual(count(statuses, 200));
    // Every admission beyond the stored count is a logged fail-open.
    expect(count(statuses, 200)).toBeLessThanOrEqual(used + logs.events('fail_open').length);
    const after = await statusesOf(Array.from({ length: 30 }, () => app.request('/x', from(ip))));
    expect(count(after, 200)).toBe(25 - used);
  });
});

describe('the cleanup alarm delivered twice, early, or late', () => {
  const live = { algorithm: 'fixed-window' as const, limit: 3, windowMs: HOUR };
  const request = (now: number, limits: KeyRequest['limits']): KeyRequest => ({ now, limits });
  const rows = (stub: DurableObjectStub) =>
    runInDurableObject(stub, async (_i, state) => ({
      rows: [...state.storage.kv.list()].map(([k, v]) => [k, JSON.stringify(v)]),
      alarm: await state.storage.getAlarm(),
    }));

  it('deletes only expired rows, and repeated runs change nothing and lose no count', async () => {
    const stub = env.RATE_LIMITER.getByName(`alarm-${freshIp()}`);
    const now = Date.now();
    const expiredLimit = {
      id: 'old/1s',
      config: { algorithm: 'fixed-window' as const, limit: 3, windowMs: 1000 },
      cost: 1,
      countRefused: false,
      shadow: false,
    };
    const liveLimit = { id: 'live/1h', config: live, cost: 1, countRefused: false, shadow: false };
    await stub.check(request(now - HOUR, [expiredLimit]));
    await stub.check(request(now, [liveLimit]));
    await stub.check(request(now, [liveLimit]));

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const afterFirst = await rows(stub);
    expect(afterFirst.rows.map(([k]) => k)).toEqual(['limit:live/1h']);
    expect(afterFirst.alarm).toBe(Math.floor(now / HOUR) * HOUR + HOUR);

    // The rescheduled alarm delivered early, twice: nothing more is deleted, the alarm stays.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await rows(stub)).toEqual(afterFirst);

    // Counting carries on from 2: one more is admitted, the next refused.
    const third = await stub.check(request(now, [liveLimit]));
    const fourth = await stub.check(request(now, [liveLimit]));
    expect([third.allowed, fourth.allowed]).toEqual([true, false]);
    expect(third.outcomes[0]!.decision.used).toBe(3);
  });

  it('a stale alarm from a shorter window does not delete a row a later request extended', async () => {
    const stub = env.RATE_LIMITER.getByName(`alarm-${freshIp()}`);
    const now = Date.now();
    const short = {
      id: 'r/2s',
      config: { algorithm: 'gcra' as const, limit: 1, windowMs: 2000 },
      cost: 1,
      countRefused: false,
      shadow: false,
    };
    await stub.check(request(now, [short]));
    const firstAlarm = (await rows(stub)).alarm;
    expect(firstAlarm).not.toBeNull();
    // A later request with a long window on the same key, then the short alarm fires (early, as tests run it).
    await stub.check(request(now, [{ id: 'r/1h', config: live, cost: 1, countRefused: false, shadow: false }]));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await rows(stub);
    expect(after.rows.map(([k]) => k)).toContain('limit:r/1h');
    expect(after.alarm).toBeGreaterThanOrEqual(Math.floor(now / HOUR) * HOUR + HOUR);
  });

  it('an alarm on an object with nothing stored leaves it empty and unscheduled', async () => {
    const stub = env.RATE_LIMITER.getByName(`alarm-${freshIp()}`);
    await runInDurableObject(stub, (_i, state) => state.storage.setAlarm(Date.now() + HOUR));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, (_i, state) => state.storage.setAlarm(Date.now() + HOUR));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await rows(stub)).toEqual({ rows: [], alarm: null });
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });
});
