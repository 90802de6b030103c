import { describe, expect, it } from 'vitest';
import { fixedWindow } from './fixed-window';
import type { LimitConfig, LimitState } from './types';

const config: LimitConfig = { algorithm: 'fixed-window', limit: 3, windowMs: 60_000 };

function run(times: number[], cost = 1, countRefused = false) {
  let state: LimitState | undefined;
  return times.map((now) => {
    const t = fixedWindow.consume(state, now, config, cost, countRefused);
    state = t.state;
    return t.decision;
  });
}

describe('fixed window', () => {
  it('admits the limit within a window, then refuses until the window ends', () => {
    const d = run([120_000, 120_001, 120_002, 120_003, 179_999, 180_000]);
    expect(d.map((x) => x.allowed)).toEqual([true, true, true, false, false, true]);
    expect(d.map((x) => x.remaining)).toEqual([2, 1, 0, 0, 0, 2]);
    expect(d[3]).toMatchObject({ resetAt: 180_000, retryAfterMs: 179_997 - 120_000 + 3 - 3 + 0 });
    expect(d[4]!.retryAfterMs).toBe(1);
  });

  it('aligns windows to the epoch', () => {
    const [d] = run([125_000]);
    expect(d!.resetAt).toBe(180_000);
  });

  it('counts cost as weight', () => {
    const d = run([0, 1, 2], 2);
    expect(d.map((x) => [x.allowed, x.used, x.remaining])).toEqual([
      [true, 2, 1],
      [false, 2, 1],
      [false, 2, 1],
    ]);
  });

  it('counts refused requests only when asked', () => {
    const uncounted = run([0, 1, 2, 3, 4]);
    const counted = run([0, 1, 2, 3, 4], 1, true);
    expect(uncounted.at(-1)!.used).toBe(3);
    expect(counted.at(-1)!.used).toBe(5);
    expect(counted.at(-1)!.remaining).toBe(0);
  });

  it('releases a reservation in the window it was counted in, not a later one', () => {
    const first = fixedWindow.consume(undefined, 1000, config, 1, false).state;
    expect(fixedWindow.release(first, 2000, config, 1, 1000).current).toBe(0);
    const later = fixedWindow.consume(first, 61_000, config, 1, false).state;
    expect(fixedWindow.release(later, 61_500, config, 1, 1000).current).toBe(1);
  });

  it('never goes backwards when a caller clock lags', () => {
    const a = fixedWindow.consume(undefined, 61_000, config, 1, false).state;
    const b = fixedWindow.consume(a, 59_000, config, 1, false);
    expect(b.state.windowStart).toBe(60_000);
    expect(b.state.current).toBe(2);
  });
});

describe('fixed window over a calendar period', () => {
  const monthly: LimitConfig = {
    algorithm: 'fixed-window',
    limit: 2,
    windowMs: 31 * 86_400_000,
    period: { unit: 'month', anchor: '2026-01-31' },
  };
  const at = (iso: string) => Date.parse(iso);

  it('counts per billing month and reports the real period end as reset and retry', () => {
    const first = fixedWindow.consume(undefined, at('2026-02-01T00:00:00Z'), monthly, 1, false);
    const second = fixedWindow.consume(first.state, at('2026-02-10T00:00:00Z'), monthly, 1, false);
    const third = fixedWindow.consume(second.state, at('2026-02-27T00:00:00Z'), monthly, 1, false);
    expect(first.state.windowStart).toBe(at('2026-01-31T00:00:00Z'));
    expect(third.decision).toMatchObject({ allowed: false, remaining: 0, resetAt: at('2026-02-28T00:00:00Z'), retryAfterMs: 86_400_000 });
    expect(fixedWindow.expiresAt(third.state, monthly)).toBe(at('2026-02-28T00:00:00Z'));
    const next = fixedWindow.consume(third.state, at('2026-02-28T00:00:00Z'), monthly, 1, false);
    expect(next.decision).toMatchObject({ allowed: true, remaining: 1, resetAt: at('2026-03-31T00:00:00Z') });
  });

  it('keeps the units used when the limit changes mid-period (a plan change)', () => {
    const used = fixedWindow.consume(
      fixedWindow.consume(undefined, at('2026-02-01T00:00:00Z'), monthly, 1, false).state,
      at('2026-02-02T00:00:00Z'),
      monthly,
      1,
      false,
    );
    expect(used.decision.remaining).toBe(0);
    const upgraded = { ...monthly, limit: 5 };
    const after = fixedWindow.consume(used.state, at('2026-02-03T00:00:00Z'), upgraded, 1, false);
    expect(after.decision).toMatchObject({ allowed: true, used: 3, remaining: 2 });
    const downgraded = { ...monthly, limit: 1 };
    expect(fixedWindow.peek(after.state, at('2026-02-04T00:00:00Z'), downgraded)).toMatchObject({ allowed: false, used: 3, remaining: 0 });
  });
});
