import { describe, expect, it } from 'vitest';
import type { KeyDecision } from '../algorithms/decide';
import { LeaseCache } from './lease-cache';

const granted: KeyDecision = {
  allowed: true,
  outcomes: [{ id: 'r/1m', shadow: false, counted: true, decision: { allowed: true, limit: 100, remaining: 80, used: 20, resetAt: 60_000, retryAfterMs: 0 } }],
};

describe('LeaseCache', () => {
  it('spends a lease locally, showing this isolate\'s unspent units as remaining', () => {
    const cache = new LeaseCache();
    const asker = cache.store('k', { units: 4, countedAt: 1_000, expiresAt: 2_000 }, 1, granted);
    expect(asker.outcomes[0]!.decision).toMatchObject({ remaining: 83, used: 17 });
    const first = cache.take('k', 1_000, 1)!;
    expect(first.outcomes[0]!.decision).toMatchObject({ remaining: 82, used: 18 });
    expect(cache.take('k', 1_001, 2)!.outcomes[0]!.decision).toMatchObject({ remaining: 80, used: 20 });
    expect(cache.take('k', 1_002, 1)).toBeUndefined();
  });

  it('stops spending at the lease\'s end and gives back what is left', () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 5, countedAt: 1_000, expiresAt: 2_000 }, 1, granted);
    expect(cache.take('k', 2_000, 1)).toBeUndefined();
    expect(cache.surrender('k')).toEqual({ units: 4, countedAt: 1_000 });
    expect(cache.surrender('k')).toBeUndefined();
  });

  it('runs low at half its size, unless a call is in flight or the object had nothing to add', async () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted);
    for (let i = 0; i < 2; i++) cache.take('k', 1_000, 1);
    expect(cache.low('k', 1_000, 8)).toBe(false);
    cache.take('k', 1_000, 1);
    expect(cache.low('k', 1_000, 8)).toBe(true);
    expect(cache.low('k', 2_000, 8)).toBe(false);
    let release!: () => void;
    const inFlight = cache.single('k', () => new Promise<void>((resolve) => (release = resolve)));
    expect(cache.low('k', 1_000, 8)).toBe(false);
    release();
    await inFlight;
    expect(cache.low('k', 1_000, 8)).toBe(true);
    cache.noMore('k');
    expect(cache.low('k', 1_000, 8)).toBe(false);
  });

  it('adds a grant counted in the lease\'s windows to it, and lets one counted after it replace it', () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted);
    for (let i = 0; i < 5; i++) cache.take('k', 1_100, 1);
    cache.topUp('k', { units: 8, countedAt: 1_500, expiresAt: 2_500 }, granted);
    expect(cache.take('k', 2_400, 9)!.outcomes[0]!.decision).toMatchObject({ remaining: 81 });
    expect(cache.surrender('k')).toEqual({ units: 1, countedAt: 1_000 });

    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted);
    cache.topUp('k', { units: 8, countedAt: 2_000, expiresAt: 3_000 }, granted);
    expect(cache.surrender('k')).toEqual({ units: 8, countedAt: 2_000 });

    cache.store('k', { units: 8, countedAt: 1_000, expiresAt: 2_000 }, 1, granted);
    cache.topUp('k', { units: 8, countedAt: 0, expiresAt: 3_000 }, granted);
    expect(cache.surrender('k')).toEqual({ units: 8, countedAt: 0 });
  });

  it('gives nothing back from a spent lease', () => {
    const cache = new LeaseCache();
    cache.store('k', { units: 1, countedAt: 0, expiresAt: 10 }, 1, granted);
    expect(cache.surrender('k')).toBeUndefined();
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

  it('stays within its size, dropping the oldest lease', () => {
    const cache = new LeaseCache(2);
    for (const key of ['a', 'b', 'c']) cache.store(key, { units: 2, countedAt: 0, expiresAt: 10 }, 0, granted);
    expect(cache.size).toBe(2);
    expect(cache.take('a', 0, 1)).toBeUndefined();
    expect(cache.take('c', 0, 1)).toBeDefined();
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
