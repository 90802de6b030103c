import { describe, expect, it } from 'vitest';
import type { KeyDecision } from '../algorithms/decide';
import type { Clock } from './clock';
import { LeaseCache } from './lease-cache';

const granted: KeyDecision = {
  allowed: true,
  outcomes: [
    {
      id: 'r/1m',
      shadow: false,
      counted: true,
      decision: { allowed: true, limit: 100, remaining: 80, used: 20, resetAt: 60_000, retryAfterMs: 0 },
    },
  ],
};

describe('LeaseCache', () => {
  it("spends a lease locally, showing this isolate's unspent units as remaining", () => {
    const cache = new LeaseCache();
    const asker = cache.store('k', { units: 4, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    expect(asker.outcomes[0]!.decision).toMatchObject({ remaining: 83, used: 17 });
    const first = cache.take('k', 1_000, 1)!;
    expect(first.outcomes[0]!.decision).toMatchObject({ remaining: 82, used: 18 });
    expect(cache.take('k', 1_001, 2)!.outcomes[0]!.decision).toMatchObject({ remaining: 80, used: 20 });
    expect(cache.take('k', 1_002, 1)).toBeUndefined();
  });

  it("stops spending at the lease's end and gives back what is left", () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 5, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    expect(cache.take('k', 2_000, 1)).toBeUndefined();
    expect(cache.surrender('k', 2_000)).toEqual({ units: 4, countedAt: 1_000 });
    expect(cache.surrender('k', 2_000)).toBeUndefined();
  });

  it('runs low at half its size, unless a call is in flight or the object had nothing to add', async () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    for (let i = 0; i < 2; i++) cache.take('k', 1_000, 1);
    expect(cache.low('k', 1_000, 1_000)).toBe(false);
    cache.take('k', 1_000, 1);
    expect(cache.low('k', 1_000, 1_000)).toBe(true);
    expect(cache.low('k', 2_000, 1_000)).toBe(false);
    let release!: () => void;
    const inFlight = cache.single('k', () => new Promise<void>((resolve) => (release = resolve)));
    expect(cache.low('k', 1_000, 1_000)).toBe(false);
    release();
    await inFlight;
    expect(cache.low('k', 1_000, 1_000)).toBe(true);
    cache.noMore('k');
    expect(cache.low('k', 1_000, 1_000)).toBe(false);
  });

  it("is not topped up when this isolate's pace would not spend it before it ends", () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    for (const at of [1_500, 1_800, 1_900]) cache.take('k', at, 1);
    // Four units in 900 ms, four left with 100 ms to go: the lease lapses with units unspent whatever is added.
    expect(cache.low('k', 1_900, 1_000)).toBe(false);
    // The same four units spent within 10 ms would run out long before the end.
    const busy = new LeaseCache();
    busy.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    for (const at of [1_001, 1_002, 1_003]) busy.take('k', at, 1);
    expect(busy.low('k', 1_003, 1_000)).toBe(true);
  });

  it("adds a grant counted in the lease's windows to it, and lets one counted after it replace it", () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    for (let i = 0; i < 5; i++) cache.take('k', 1_100, 1);
    cache.topUp('k', { units: 8, countedAt: 1_500, expiresAt: 2_500 }, granted, 1_500);
    expect(cache.take('k', 2_400, 9)!.outcomes[0]!.decision).toMatchObject({ remaining: 81 });
    expect(cache.surrender('k', 1_500)).toEqual({ units: 1, countedAt: 1_000 });

    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    cache.topUp('k', { units: 8, countedAt: 2_000, expiresAt: 3_000 }, granted, 1_500);
    expect(cache.surrender('k', 1_500)).toEqual({ units: 8, countedAt: 2_000 });

    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted, 1_000);
    cache.topUp('k', { units: 8, countedAt: 0, expiresAt: 3_000 }, granted, 1_500);
    expect(cache.surrender('k', 1_500)).toEqual({ units: 8, countedAt: 0 });
  });

  it('gives nothing back from a spent lease', () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 1, countedAt: 0, expiresAt: 10 }, 1, granted, 0);
    expect(cache.surrender('k', 1_500)).toBeUndefined();
  });

  it('lets one request per key ask the object while the others wait for it', async () => {
    const cache = new LeaseCache();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ask = async () => {
      calls++;
      await gate;
      return 'asked';
    };
    const answers = Promise.all([cache.single('k', ask), cache.single('k', ask), cache.single('other', ask)]);
    release();
    expect(await answers).toEqual(['asked', undefined, 'asked']);
    expect(calls).toBe(2);
  });

  it('times a waiting request on the clock it is given: a call older than the longest wait holds no one back', async () => {
    let now = 1_000;
    const timers: Array<{ at: number; run: () => void }> = [];
    const clock: Clock = { now: () => now, setTimeout: (run, ms) => timers.push({ at: now + ms, run }), clearTimeout: () => undefined };
    const cache = new LeaseCache(10, 100, true, clock);
    void cache.single('k', () => new Promise<string>(() => {}));
    const waiter = cache.single('k', async () => 'asked');
    expect(timers.map((t) => t.at)).toEqual([1_100]);
    timers[0]!.run();
    expect(await waiter).toBeUndefined();
    now = 1_100;
    expect(await cache.single('k', async () => 'asked')).toBe('asked');
  });

  it('stays within its size, dropping the oldest lease', () => {
    const cache = new LeaseCache(2);
    for (const key of ['a', 'b', 'c']) cache.store(key, { units: 2, countedAt: 0, expiresAt: 10 }, 0, granted, 0);
    expect(cache.size).toBe(2);
    expect(cache.take('a', 0, 1)).toBeUndefined();
    expect(cache.take('c', 0, 1)).toBeDefined();
  });
});

describe('LeaseCache lease sizes', () => {
  const TTL = 1_000;
  /** A visit that takes a new lease of what the cache asks for at `now`, as the request path does; returns the size asked. */
  const visit = (cache: LeaseCache, now: number, max = 64): number => {
    const size = cache.askSize('k', now, max, TTL);
    cache.surrender('k', now);
    cache.store('k', { units: size, countedAt: now, expiresAt: now + TTL }, 1, granted, now);
    return size;
  };

  it('asks one unit for a key the isolate has not leased before', () => {
    const cache = new LeaseCache();
    expect(cache.askSize('k', 1_000, 64, TTL)).toBe(1);
    expect(cache.askSize('k', 1_000, 64, TTL)).toBe(1);
  });

  it('asks little for a key it sees seldom, so little is left stranded when it stops', () => {
    const cache = new LeaseCache();
    // One visit every two seconds: each lease has lapsed a lease lifetime or more before the next, which starts anew.
    const sizes = Array.from({ length: 10 }, (_, i) => visit(cache, 1_000 + i * 2_000));
    expect(sizes).toEqual(Array(10).fill(1));
    // One visit every 1.5 s: back within a lease lifetime of each lapse, at one unit per 1.5 s: three lease lifetimes is 2, rounded up.
    const closer = new LeaseCache();
    const closerSizes = Array.from({ length: 10 }, (_, i) => visit(closer, 1_000 + i * 1_500));
    expect(closerSizes[0]).toBe(1);
    expect(closerSizes.slice(1)).toEqual(Array(9).fill(2));
  });

  it("grows a busy key's leases to the rule's size within a few calls, and never past it", () => {
    const cache = new LeaseCache();
    const sizes: number[] = [];
    // A hundred requests a second for one second, spending as the request path does: a new lease when there is none, a top-up when it runs low.
    for (let now = 1_000; now < 2_000; now += 10) {
      if (!cache.take('k', now, 1)) {
        sizes.push(visit(cache, now));
      } else if (cache.low('k', now, TTL)) {
        sizes.push(cache.askSize('k', now, 64, TTL));
        cache.topUp('k', { units: sizes.at(-1)!, countedAt: now, expiresAt: now + TTL }, granted, now);
      }
    }
    expect(sizes[0]).toBe(1);
    expect(sizes.slice(2).every((size) => size === 64)).toBe(true);
    expect(sizes.length).toBeLessThanOrEqual(4);
    expect(cache.askSize('k', 2_000, 20, TTL)).toBe(20);
  });

  it('measures a key anew once it has been idle for a lease lifetime after its lease lapsed', () => {
    const cache = new LeaseCache();
    let now = 1_000;
    cache.store('k', { units: 1_000, countedAt: now, expiresAt: now + TTL }, 1, granted, now);
    for (let i = 0; i < 200; i++) cache.take('k', (now += 1), 1);
    // 201 units in 200 ms, read over a quarter second at least: three lease lifetimes at that pace.
    expect(cache.askSize('k', now, 10_000, TTL)).toBe(Math.ceil((3 * 201 * TTL) / 250));
    // Idle for ten seconds: the busy stretch is forgotten, and the lease taken now is one unit, as a first one is.
    now += 10_000;
    expect(visit(cache, now, 10_000)).toBe(1);
    // Busy again: ten units in 100 ms, read over a quarter second.
    for (let i = 0; i < 10; i++) if (!cache.take('k', (now += 10), 1)) visit(cache, now, 10_000);
    expect(cache.askSize('k', now, 10_000, TTL)).toBe(Math.ceil((3 * 11 * TTL) / 250));
  });

  it('keeps the pace of a key that pauses for less than a lease lifetime', () => {
    const cache = new LeaseCache();
    let now = 1_000;
    cache.store('k', { units: 64, countedAt: now, expiresAt: now + TTL }, 1, granted, now);
    for (let i = 0; i < 30; i++) cache.take('k', (now += 33), 1);
    // The lease lapses at 2 000 and the key is back 100 ms later: the new lease carries on the run.
    now = 2_100;
    expect(visit(cache, now)).toBe(64);
    now += 100;
    // 32 units in 1.2 s: a pause does not cut the next lease back to a few units.
    expect(cache.askSize('k', now, 1_000, TTL)).toBe(Math.ceil((3 * 32 * TTL) / 1_200));
  });

  it("starts anew after a pause longer than one grant's lifetime, however long top-ups kept the lease alive", () => {
    const cache = new LeaseCache();
    let now = 1_000;
    cache.store('k', { units: 64, countedAt: 1_000, expiresAt: now + TTL }, 1, granted, now);
    // Topped up every half second for five seconds, in the same window: the lease lives until 6 000.
    for (; now < 5_500; ) {
      now += 500;
      for (let i = 0; i < 32; i++) cache.take('k', now, 1);
      cache.topUp('k', { units: 32, countedAt: 1_000, expiresAt: now + TTL }, granted, now);
    }
    expect(cache.take('k', 5_999, 1)).toBeDefined();
    // Back 1.5 s after the lapse: longer than a lease lifetime, so the busy stretch is forgotten.
    expect(cache.askSize('k', 7_500, 64, TTL)).toBe(1);
  });

  it('measures a key that slows down from its lapsed lease, forgetting its busy stretch', () => {
    const cache = new LeaseCache();
    let now = 1_000;
    const sizes: number[] = [];
    // A hundred requests a second for ten seconds, then two a second, each request spending as the request path does.
    const request = () => {
      if (!cache.take('k', now, 1)) sizes.push(visit(cache, now, 1_000));
    };
    for (; now < 11_000; now += 10) request();
    expect(cache.askSize('k', now, 1_000, TTL)).toBeGreaterThan(250);
    sizes.length = 0;
    for (; now < 16_000; now += 500) request();
    // The first lease of the slow stretch lapses with most of it unspent; from then on, three lease lifetimes at two a second.
    expect(sizes.slice(1)).toEqual(Array(sizes.length - 1).fill(sizes[1]));
    expect(sizes[1]).toBeLessThanOrEqual(6);
  });
});

describe('LeaseCache where requests cannot wait for each other', () => {
  it('says a key is being asked for, so a request can decide on its own instead of waiting', async () => {
    const cache = new LeaseCache(10, 1_000, false);
    expect(cache.waits).toBe(false);
    let release!: () => void;
    const asking = cache.single('k', () => new Promise<string>((r) => (release = () => r('asked'))));
    expect(cache.busy('k')).toBe(true);
    expect(cache.busy('other')).toBe(false);
    release();
    expect(await asking).toBe('asked');
    expect(cache.busy('k')).toBe(false);
  });
});
