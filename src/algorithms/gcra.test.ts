import { describe, expect, it } from 'vitest';
import { gcra } from './gcra';
import type { LimitConfig, LimitState } from './types';

// 10 per second (one unit every 100 ms), bursts of 3.
const config: LimitConfig = { algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 3 };

function run(times: number[], cost = 1) {
  let state: LimitState | undefined;
  return times.map((now) => {
    const t = gcra.consume(state, now, config, cost, false);
    state = t.state;
    return t.decision;
  });
}

describe('GCRA', () => {
  it('admits a burst, then one unit per emission interval', () => {
    const d = run([0, 0, 0, 0, 99, 100, 100, 200]);
    expect(d.map((x) => x.allowed)).toEqual([true, true, true, false, false, true, false, true]);
  });

  it('gives the exact retry time from one timestamp', () => {
    const d = run([0, 0, 0, 0]);
    expect(d[3]).toMatchObject({ allowed: false, retryAfterMs: 100, remaining: 0 });
    expect(d[0]).toMatchObject({ allowed: true, remaining: 2, resetAt: 100 });
    expect(d[2]).toMatchObject({ remaining: 0, resetAt: 300 });
  });

  it('replenishes to the full burst after burst × interval of quiet', () => {
    const d = run([0, 0, 0, 300, 300, 300, 300]);
    expect(d.map((x) => x.allowed)).toEqual([true, true, true, true, true, true, false]);
  });

  it('weighs cost, and never admits a cost above the burst', () => {
    expect(run([0, 0], 2).map((x) => x.allowed)).toEqual([true, false]);
    const tooBig = run([0], 4)[0]!;
    expect(tooBig.allowed).toBe(false);
    expect(tooBig.retryAfterMs).toBeGreaterThan(0);
  });

  it('defaults the burst to the limit', () => {
    const noBurst: LimitConfig = { algorithm: 'gcra', limit: 5, windowMs: 1000 };
    let state: LimitState | undefined;
    const allowed = Array.from({ length: 6 }, () => {
      const t = gcra.consume(state, 0, noBurst, 1, false);
      state = t.state;
      return t.decision.allowed;
    });
    expect(allowed).toEqual([true, true, true, true, true, false]);
  });

  it('releases by moving the arrival time back, never before now', () => {
    const s: LimitState = { windowStart: 0, current: 0, previous: 0, tat: 300 };
    expect(gcra.release(s, 0, config, 1, 0).tat).toBe(200);
    expect(gcra.release(s, 250, config, 1, 0).tat).toBe(250);
  });
});
