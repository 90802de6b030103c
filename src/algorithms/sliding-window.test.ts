import { describe, expect, it } from 'vitest';
import { estimate, slidingWindow } from './sliding-window';
import type { LimitConfig, LimitState } from './types';

const config: LimitConfig = { algorithm: 'sliding-window', limit: 10, windowMs: 60_000 };

describe('sliding window', () => {
  it('weighs the previous window by the share of it still inside the sliding window', () => {
    const state: LimitState = { windowStart: 60_000, current: 2, previous: 8, tat: 0 };
    expect(estimate(state, 60_000, 60_000)).toBe(10);
    expect(estimate(state, 75_000, 60_000)).toBe(8);
    expect(estimate(state, 90_000, 60_000)).toBe(6);
    expect(estimate(state, 120_000, 60_000)).toBe(2);
  });

  it('admits the limit in a first window and refuses the next until the window rolls', () => {
    let state: LimitState | undefined;
    const allowed: boolean[] = [];
    for (let i = 0; i < 11; i++) {
      const t = slidingWindow.consume(state, 60_000 + i, config, 1, false);
      state = t.state;
      allowed.push(t.decision.allowed);
    }
    expect(allowed).toEqual([...Array(10).fill(true), false]);
    expect(state).toEqual({ windowStart: 60_000, current: 10, previous: 0, tat: 0 });
  });

  it('carries the full previous window into the next one and frees it gradually', () => {
    const full: LimitState = { windowStart: 60_000, current: 10, previous: 0, tat: 0 };
    // At the start of the next window the whole previous count still weighs in.
    expect(slidingWindow.consume(full, 120_000, config, 1, false).decision.allowed).toBe(false);
    // 6 s in, 10 × 54/60 = 9 leaves room for one.
    const at6s = slidingWindow.consume(full, 126_000, config, 1, false);
    expect(at6s.decision.allowed).toBe(true);
    expect(at6s.state).toEqual({ windowStart: 120_000, current: 1, previous: 10, tat: 0 });
  });

  it('says exactly when a refused request could be admitted', () => {
    const full: LimitState = { windowStart: 60_000, current: 10, previous: 0, tat: 0 };
    const refused = slidingWindow.consume(full, 100_000, config, 1, false);
    expect(refused.decision.allowed).toBe(false);
    // Next window starts at 120 s; one unit fits once 10 × (60 − e)/60 ≤ 9, i.e. e ≥ 6 s.
    expect(refused.decision.retryAfterMs).toBe(126_000 - 100_000);
    expect(slidingWindow.consume(full, 125_999, config, 1, false).decision.allowed).toBe(false);
    expect(slidingWindow.consume(full, 126_000, config, 1, false).decision.allowed).toBe(true);
  });

  it('drops a previous window that is more than one window old', () => {
    const old: LimitState = { windowStart: 0, current: 10, previous: 3, tat: 0 };
    const t = slidingWindow.consume(old, 130_000, config, 1, false);
    expect(t.state).toEqual({ windowStart: 120_000, current: 1, previous: 0, tat: 0 });
  });

  it('releases into the window the reservation was counted in', () => {
    const s: LimitState = { windowStart: 120_000, current: 3, previous: 5, tat: 0 };
    expect(slidingWindow.release(s, 121_000, config, 1, 120_500).current).toBe(2);
    expect(slidingWindow.release(s, 121_000, config, 1, 61_000).previous).toBe(4);
    expect(slidingWindow.release(s, 121_000, config, 1, 1_000)).toEqual(s);
  });
});
