import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { LimitRequest } from '../../src/algorithms/decide';
import { reserveUnits } from '../../src/algorithms/reserve';
import type { LimitConfig } from '../../src/algorithms/types';
import { HOT_MS, SETTLE_BACKOFF_MAX, SETTLE_MS } from '../../src/durable-object/limit-rows';
import type { RateLimiter } from '../../src/durable-object/rate-limiter';
import type { StoredLimit } from '../../src/durable-object/storage';

type Stub = DurableObjectStub<RateLimiter>;

const HOUR = 3_600_000;
const configs: LimitConfig[] = [
  { algorithm: 'fixed-window', limit: 1000, windowMs: HOUR },
  { algorithm: 'sliding-window', limit: 1000, windowMs: HOUR },
  { algorithm: 'gcra', limit: 1000, windowMs: HOUR },
];
const limitOf = (config: LimitConfig): LimitRequest => ({
  id: `hot/${config.algorithm}`,
  config,
  cost: 1,
  countRefused: false,
  shadow: false,
});

/** Counts the rows the object writes from now on; returns a reader of the count. */
async function countWrites(stub: Stub): Promise<() => Promise<number>> {
  await runInDurableObject(stub, (_instance, state) => {
    const kv = state.storage.kv as SyncKvStorage & { writes?: number };
    const put = kv.put.bind(kv);
    kv.writes = 0;
    kv.put = ((key: string, value: unknown) => {
      kv.writes!++;
      return put(key, value);
    }) as SyncKvStorage['put'];
  });
  return () => runInDurableObject(stub, (_instance, state) => (state.storage.kv as SyncKvStorage & { writes?: number }).writes ?? 0);
}

const storedOf = (stub: Stub, config: LimitConfig) =>
  runInDurableObject(stub, (_instance, state) => state.storage.kv.get<StoredLimit>(`limit:hot/${config.algorithm}`)!.state);

async function crash(stub: Stub): Promise<void> {
  await expect(runInDurableObject(stub, (_instance, state) => state.abort('crash'))).rejects.toThrow();
}

async function admitted(stub: Stub, config: LimitConfig, now: number, n: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await stub.check({ now, limits: [limitOf(config)] })).allowed) allowed++;
  return allowed;
}

describe('a hot key counts in memory and writes ahead', () => {
  for (const config of configs) {
    it(`${config.algorithm}: writes about one row per reservation, and storage always holds at least the count`, async () => {
      const stub = env.RATE_LIMITER.getByName(`hot-writes-${config.algorithm}`);
      const writes = await countWrites(stub);
      const now = Date.now();
      expect(await admitted(stub, config, now, 300)).toBe(300);
      const units = reserveUnits(config);
      expect(units).toBe(10);
      // The first write is exact; every later one reserves `units` ahead.
      expect(await writes()).toBeLessThanOrEqual(2 + Math.ceil(300 / (units + 1)));
      expect(await writes()).toBeGreaterThan(1);
      const snapshot = await stub.inspect(now);
      expect(snapshot.limits[0]!.decision.remaining).toBe(700);
      const stored = await storedOf(stub, config);
      if (config.algorithm === 'gcra') {
        const interval = config.windowMs / config.limit;
        expect(stored.tat).toBeGreaterThanOrEqual(now + 300 * interval);
        expect(stored.tat).toBeLessThanOrEqual(now + (300 + units) * interval);
      } else {
        expect(stored.current).toBeGreaterThanOrEqual(300);
        expect(stored.current).toBeLessThanOrEqual(300 + units);
      }
    });

    it(`${config.algorithm}: after a crash, resumes from the reservation: never more than the limit, at most one reservation less`, async () => {
      const stub = env.RATE_LIMITER.getByName(`hot-crash-${config.algorithm}`);
      const now = Date.now();
      const before = await admitted(stub, config, now, 505);
      await crash(stub);
      const after = await admitted(env.RATE_LIMITER.getByName(`hot-crash-${config.algorithm}`), config, now, 600);
      expect(before).toBe(505);
      expect(before + after).toBeLessThanOrEqual(config.limit);
      expect(before + after).toBeGreaterThanOrEqual(config.limit - reserveUnits(config));
    });
  }

  it('writes the exact count from its alarm once the key goes quiet, so a restart after that loses nothing', async () => {
    const config = configs[0]!;
    const stub = env.RATE_LIMITER.getByName('hot-settle');
    const now = Date.now();
    expect(await admitted(stub, config, now, 255)).toBe(255);
    expect((await storedOf(stub, config)).current).toBeGreaterThan(255);
    // The settling check is the object's alarm, due SETTLE_MS after the last change (not the cleanup, an hour away).
    const alarm = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(now + SETTLE_MS);
    expect(alarm).toBeLessThan(Date.now() + SETTLE_MS + 1000);
    // The alarm runs once the key has been quiet for SETTLE_MS (its clock moved on, so the test need not sleep, and the object is not evicted meanwhile); a second run changes nothing.
    const quietAlarm = () =>
      runInDurableObject(stub, async (instance) => {
        const realNow = Date.now;
        Date.now = () => realNow() + SETTLE_MS;
        try {
          await instance.alarm();
        } finally {
          Date.now = realNow;
        }
      });
    await quietAlarm();
    await quietAlarm();
    expect((await storedOf(stub, config)).current).toBe(255);
    // What is left is the cleanup at the window's end.
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBe(Math.floor(now / HOUR) * HOUR + HOUR);
    await crash(stub);
    expect(await admitted(env.RATE_LIMITER.getByName('hot-settle'), config, now, 800)).toBe(745);
  }, 30_000);

  it('arms no timer: the settling check is a storage alarm, so the idle object can hibernate', async () => {
    const config = configs[0]!;
    const stub = env.RATE_LIMITER.getByName('hot-no-timer');
    const now = Date.now();
    const armed = await runInDurableObject(stub, (instance) => {
      const original = globalThis.setTimeout;
      let timers = 0;
      globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => (timers++, original(...args))) as typeof setTimeout;
      try {
        for (let i = 0; i < 300; i++) instance.check({ now, limits: [limitOf(config)] });
      } finally {
        globalThis.setTimeout = original;
      }
      return timers;
    });
    expect(armed).toBe(0);
    expect((await storedOf(stub, config)).current).toBeGreaterThan(300);
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBeLessThanOrEqual(Date.now() + SETTLE_MS);
  });

  it('an alarm while the key is busy keeps the reservation and checks again later each time, never more than the limit', async () => {
    const config = configs[0]!;
    const stub = env.RATE_LIMITER.getByName('hot-busy-alarm');
    const now = Date.now();
    expect(await admitted(stub, config, now, 40)).toBe(40);
    const reserved = (await storedOf(stub, config)).current;
    expect(reserved).toBeGreaterThan(40);
    const before = Date.now();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedOf(stub, config)).current).toBe(reserved);
    // Each check that finds the key busy doubles the wait before the next: 16 s, then 32 s, never past SETTLE_BACKOFF_MAX × SETTLE_MS.
    const next = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    // (or at the window's end, when that comes first: the alarm is also the clean-up)
    expect(next).toBeGreaterThanOrEqual(Math.min(before + 4 * SETTLE_MS, Math.floor(now / HOUR) * HOUR + HOUR));
    expect(next).toBeLessThanOrEqual(Date.now() + SETTLE_BACKOFF_MAX * SETTLE_MS);
    // Evicted before it settles: it resumes from the reservation, refusing early by at most that.
    await crash(stub);
    const after = await admitted(env.RATE_LIMITER.getByName('hot-busy-alarm'), config, now, 1200);
    expect(40 + after).toBeLessThanOrEqual(config.limit);
    expect(40 + after).toBeGreaterThanOrEqual(config.limit - (reserved - 40));
  }, 30_000);

  it('admits exactly the limit to concurrent requests', async () => {
    const config = configs[0]!;
    const stub = env.RATE_LIMITER.getByName('hot-concurrent');
    const now = Date.now();
    const decisions = await Promise.all(Array.from({ length: 1200 }, () => stub.check({ now, limits: [limitOf(config)] })));
    expect(decisions.filter((d) => d.allowed).length).toBe(1000);
  });

  /** A limit large enough that 1 % of it never caps the reservation in these tests. */
  const large: LimitConfig = { algorithm: 'fixed-window', limit: 10_000_000, windowMs: HOUR };

  it('a key that keeps its pace reserves more at each write, within 1 % of the limit', async () => {
    const config = large;
    const stub = env.RATE_LIMITER.getByName('hot-paced');
    const writes = await countWrites(stub);
    const now = Date.now();
    // Every request at one instant: each reservation is spent at once, so the next is RESERVE_GROWTH times larger (64, 256, 1,024).
    expect(await admitted(stub, config, now, 1500)).toBe(1500);
    expect(await writes()).toBeLessThanOrEqual(5);
    const stored = (await storedOf(stub, config)).current;
    expect(stored).toBeGreaterThanOrEqual(1500);
    expect(stored).toBeLessThanOrEqual(1500 + config.limit / 100);
    await crash(stub);
    const after = env.RATE_LIMITER.getByName('hot-paced');
    expect((await after.inspect(now)).limits[0]!.decision.used).toBe(stored);
  });

  it('a slow key keeps the base reservation', async () => {
    const config = large;
    const stub = env.RATE_LIMITER.getByName('hot-slow');
    const writes = await countWrites(stub);
    const start = Date.now() - HOUR / 2;
    // One request every 500 ms: busy (changed again within the settling time), but each reservation of 64 lasts half a minute.
    for (let i = 0; i < 300; i++) expect((await stub.check({ now: start + i * 500, limits: [limitOf(config)] })).allowed).toBe(true);
    expect(await writes()).toBeGreaterThanOrEqual(Math.floor(300 / 65));
    expect(await writes()).toBeLessThanOrEqual(2 + Math.ceil(300 / 65));
  });

  it('a key that comes back within HOT_MS reserves too; one that comes back later writes each visit exactly', async () => {
    const config = large;
    // 100 visits up to HOT_MS apart, all in one window that ends well after this test.
    const windowStart = Math.floor(Date.now() / HOUR) * HOUR;
    const start = windowStart + HOUR - Date.now() > 100 * HOT_MS + 60_000 ? windowStart : windowStart + HOUR;
    const visits = async (name: string, gapMs: number) => {
      const stub = env.RATE_LIMITER.getByName(name);
      const writes = await countWrites(stub);
      for (let i = 0; i < 100; i++) expect((await stub.check({ now: start + i * gapMs, limits: [limitOf(config)] })).allowed).toBe(true);
      return { writes: await writes(), stored: (await storedOf(stub, config)).current };
    };
    const warm = await visits('warm-visits', HOT_MS - 1);
    expect(warm.writes).toBeLessThanOrEqual(2 + Math.ceil(100 / 65));
    expect(warm.stored).toBeGreaterThan(100);
    const cold = await visits('cold-visits', HOT_MS);
    expect(cold.writes).toBe(100);
    expect(cold.stored).toBe(100);
  });

  it('writes every change of a limit under 100, which reserves nothing', async () => {
    const config: LimitConfig = { algorithm: 'fixed-window', limit: 99, windowMs: HOUR };
    const stub = env.RATE_LIMITER.getByName('hot-small');
    const writes = await countWrites(stub);
    const now = Date.now();
    expect(await admitted(stub, config, now, 120)).toBe(99);
    expect(await writes()).toBe(99);
    expect((await storedOf(stub, config)).current).toBe(99);
  });
});
