import { describe, expect, it } from 'vitest';
import type { KeyDecision } from '../algorithms/decide';
import { DenyCache } from './deny-cache';

function refusal(retryAfterMs: number): KeyDecision {
  return {
    allowed: false,
    outcomes: [
      {
        id: 'r/1m',
        shadow: false,
        counted: false,
        decision: { allowed: false, limit: 10, remaining: 0, used: 10, resetAt: 60_000, retryAfterMs },
      },
    ],
  };
}

describe('DenyCache', () => {
  it('answers a refused key until its retry time, with the wait brought up to date', () => {
    const cache = new DenyCache();
    cache.remember('k', 10_000, 1, refusal(5_000));
    const later = cache.get('k', 12_000, 1)!;
    expect(later.allowed).toBe(false);
    expect(later.outcomes[0]!.decision.retryAfterMs).toBe(3_000);
    expect(later.outcomes[0]!.counted).toBe(false);
    expect(cache.get('k', 14_999, 1)!.outcomes[0]!.decision.retryAfterMs).toBe(1);
    expect(cache.get('k', 15_000, 1)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not answer for a cheaper request than the one refused', () => {
    const cache = new DenyCache();
    cache.remember('k', 0, 5, refusal(1_000));
    expect(cache.get('k', 1, 4)).toBeUndefined();
    expect(cache.get('k', 1, 5)).toBeDefined();
  });

  it('keeps a ban until it ends', () => {
    const cache = new DenyCache();
    cache.remember('k', 0, 1, { ...refusal(10), banned: { until: 60_000, rule: 'r' } });
    expect(cache.get('k', 59_999, 1)?.banned).toEqual({ until: 60_000, rule: 'r' });
    expect(cache.get('k', 60_000, 1)).toBeUndefined();
  });

  it('ignores refusals that are already over and stays within its size', () => {
    const cache = new DenyCache(2);
    cache.remember('gone', 0, 1, refusal(0));
    expect(cache.size).toBe(0);
    for (const key of ['a', 'b', 'c']) cache.remember(key, 0, 1, refusal(1_000));
    expect(cache.size).toBe(2);
    expect(cache.get('a', 1, 1)).toBeUndefined();
    expect(cache.get('c', 1, 1)).toBeDefined();
  });
});
