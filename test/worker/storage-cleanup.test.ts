import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { LimitRequest } from '../../src/algorithms/decide';
import type { LimitConfig } from '../../src/algorithms/types';

const WINDOW = 60_000;
const configs: LimitConfig[] = [
  { algorithm: 'fixed-window', limit: 10, windowMs: WINDOW },
  { algorithm: 'sliding-window', limit: 10, windowMs: WINDOW },
  { algorithm: 'gcra', limit: 10, windowMs: WINDOW },
];

const limit = (config: LimitConfig): LimitRequest => ({ id: `r/${config.algorithm}`, config, cost: 1, countRefused: false, shadow: false });

async function storageOf(stub: DurableObjectStub) {
  return runInDurableObject(stub, async (_instance, state) => ({
    rows: [...state.storage.kv.list()].length,
    alarm: await state.storage.getAlarm(),
  }));
}

describe('storage that cleans itself', () => {
  for (const config of configs) {
    it(`${config.algorithm}: the alarm is due within two windows of the key's last use, and leaves nothing behind`, async () => {
      const live = env.RATE_LIMITER.getByName(`cleanup-live-${config.algorithm}`);
      const now = Date.now();
      for (let i = 0; i < 3; i++) await live.check({ now: now + i, limits: [limit(config)] });
      const scheduled = await storageOf(live);
      expect(scheduled.rows).toBe(1);
      expect(scheduled.alarm).toBeGreaterThan(now);
      expect(scheduled.alarm!).toBeLessThanOrEqual(now + 2 + 2 * WINDOW);

      // A key last used two windows ago: its alarm deletes every row and leaves no alarm.
      const idle = env.RATE_LIMITER.getByName(`cleanup-idle-${config.algorithm}`);
      for (let i = 0; i < 3; i++) await idle.check({ now: now - 2 * WINDOW - 3 + i, limits: [limit(config)] });
      expect((await storageOf(idle)).rows).toBe(1);
      expect(await runDurableObjectAlarm(idle)).toBe(true);
      expect(await storageOf(idle)).toEqual({ rows: 0, alarm: null });
    });
  }

  it('keeps a key in use, rescheduling its alarm for when it expires', async () => {
    const stub = env.RATE_LIMITER.getByName('cleanup-live');
    const now = Date.now();
    await stub.check({ now, limits: [limit(configs[1]!)] });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await storageOf(stub);
    expect(after.rows).toBe(1);
    expect(after.alarm).toBe(Math.floor(now / WINDOW) * WINDOW + 2 * WINDOW);
  });

  it('an object restarted between visits keeps the alarm it set, writing no new one', async () => {
    const name = 'cleanup-restarted';
    const config: LimitConfig = { algorithm: 'fixed-window', limit: 10, windowMs: WINDOW };
    const now = Date.now();
    await env.RATE_LIMITER.getByName(name).check({ now, limits: [limit(config)] });
    const first = (await storageOf(env.RATE_LIMITER.getByName(name))).alarm;
    expect(first).toBe(Math.floor(now / WINDOW) * WINDOW + WINDOW);
    await expect(runInDurableObject(env.RATE_LIMITER.getByName(name), (_instance, state) => state.abort('restart'))).rejects.toThrow();
    // The next visit falls in a later window, whose expiry is later: the alarm already set still runs first and moves on from there.
    await env.RATE_LIMITER.getByName(name).check({ now: now + WINDOW, limits: [limit(config)] });
    expect((await storageOf(env.RATE_LIMITER.getByName(name))).alarm).toBe(first);
    expect(await runDurableObjectAlarm(env.RATE_LIMITER.getByName(name))).toBe(true);
    expect((await storageOf(env.RATE_LIMITER.getByName(name))).alarm).toBe(Math.floor(now / WINDOW) * WINDOW + 2 * WINDOW);
  });

  it('cleans up leased budget the same way', async () => {
    const stub = env.RATE_LIMITER.getByName('cleanup-lease');
    const lastUse = Date.now() - WINDOW - 1;
    const answer = await stub.lease({ now: lastUse, limits: [limit(configs[0]!)], size: 5, ttlMs: 1_000 });
    expect(answer.grant?.units).toBe(5);
    expect((await storageOf(stub)).rows).toBe(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storageOf(stub)).toEqual({ rows: 0, alarm: null });
  });

  it('writes no row for a request that changes nothing, and none for a refusal', async () => {
    const stub = env.RATE_LIMITER.getByName('cleanup-writes');
    const now = Date.now();
    const one: LimitConfig = { algorithm: 'fixed-window', limit: 1, windowMs: WINDOW };
    const puts = await runInDurableObject(stub, (instance, state) => {
      const kv = state.storage.kv;
      const put = kv.put.bind(kv);
      let count = 0;
      kv.put = (key: string, value: unknown) => (count++, put(key, value));
      instance.check({ now, limits: [limit(one)] });
      instance.check({ now: now + 1, limits: [{ ...limit(one), cost: 0 }] });
      const refused = instance.check({ now: now + 2, limits: [limit(one)] });
      kv.put = put;
      return { count, refused: !refused.allowed };
    });
    expect(puts).toEqual({ count: 1, refused: true });
  });

  it('decides a batch as separate calls would, writing each row once', async () => {
    const now = Date.now();
    const three: LimitConfig = { algorithm: 'sliding-window', limit: 3, windowMs: WINDOW };
    const requests = Array.from({ length: 5 }, (_, i) => ({ now: now + i, limits: [limit(three)] }));
    const sequential = env.RATE_LIMITER.getByName('batch-sequential');
    const one = [];
    for (const r of requests) one.push(await sequential.check(r));
    const batched = await runInDurableObject(env.RATE_LIMITER.getByName('batch-batched'), (instance, state) => {
      const kv = state.storage.kv;
      const put = kv.put.bind(kv);
      let count = 0;
      kv.put = (key: string, value: unknown) => (count++, put(key, value));
      const decisions = instance.checkBatch(requests);
      kv.put = put;
      return { decisions, count };
    });
    expect(batched.decisions).toEqual(one);
    expect(one.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(batched.count).toBe(1);
  });
});
