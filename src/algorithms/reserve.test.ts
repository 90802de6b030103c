import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS } from './registry';
import { RESERVE_AHEAD_MS, RESERVE_BASE, RESERVE_GROWTH, reserve, reserveUnits } from './reserve';
import type { AlgorithmName, LimitConfig, LimitState } from './types';

const T0 = 1_700_000_000_000;
const arrivals = fc.array(
  fc.record({ gap: fc.integer({ min: 0, max: 1500 }), cost: fc.integer({ min: 1, max: 3 }), crash: fc.boolean() }),
  { maxLength: 150 },
);
const configs = fc.record({ limit: fc.integer({ min: 1, max: 30 }), windowMs: fc.constantFrom(1000, 2000, 5000) });
const units = fc.integer({ min: 1, max: 12 });

interface Arrival {
  gap: number;
  cost: number;
  crash: boolean;
}

/**
 * Runs arrivals the way a key's object does: it decides on `live` and writes
 * `stored` (a reservation of `ahead` units) only when `stored` no longer
 * covers `live`. An arrival marked `crash` restarts the object first, from
 * what storage holds. Returns what was admitted.
 */
function run(name: AlgorithmName, config: LimitConfig, seq: Arrival[], ahead: number, crashes: boolean) {
  const algorithm = ALGORITHMS[name];
  let live: LimitState | undefined;
  let stored: LimitState | undefined;
  let now = T0;
  const admitted: Array<{ now: number; cost: number }> = [];
  for (const { gap, cost, crash } of seq) {
    now += gap;
    if (crashes && crash) live = stored;
    const step = algorithm.consume(live, now, config, cost, false);
    if (!step.decision.allowed) continue;
    admitted.push({ now, cost });
    live = step.state;
    if (!stored || !algorithm.covers(stored, live)) stored = ahead > 0 ? reserve(live, now, config, ahead) : live;
    expect(algorithm.covers(stored, live)).toBe(true);
  }
  return admitted;
}

describe('reserveUnits', () => {
  it('reserves 1 % of a limit, none below 100 and at most RESERVE_BASE while the pace is unknown', () => {
    expect(reserveUnits({ algorithm: 'fixed-window', limit: 99, windowMs: 1000 })).toBe(0);
    expect(reserveUnits({ algorithm: 'fixed-window', limit: 500, windowMs: 1000 })).toBe(5);
    expect(reserveUnits({ algorithm: 'gcra', limit: 10, burst: 1000, windowMs: 1000 })).toBe(10);
    expect(reserveUnits({ algorithm: 'sliding-window', limit: 1_000_000, windowMs: 1000 })).toBe(RESERVE_BASE);
  });

  const big: LimitConfig = { algorithm: 'fixed-window', limit: 100_000_000, windowMs: 3_600_000 };

  it('paces a busy key: RESERVE_AHEAD_MS of its traffic at the pace it spent the previous reservation', () => {
    // 512 units spent in 4 s: 128 a second.
    expect(reserveUnits(big, { units: 512, lastedMs: 4000 })).toBe((512 * RESERVE_AHEAD_MS) / 4000);
    // A slow key falls back to the base, never under it.
    expect(reserveUnits(big, { units: 512, lastedMs: 600_000 })).toBe(RESERVE_BASE);
  });

  it('grows at most RESERVE_GROWTH times a write, however short the previous one lasted', () => {
    expect(reserveUnits(big, { units: 64, lastedMs: 0 })).toBe(64 * RESERVE_GROWTH);
    expect(reserveUnits(big, { units: 64, lastedMs: 1 })).toBe(64 * RESERVE_GROWTH);
  });

  it('stays within 1 % of the limit and within RESERVE_GROWTH of the previous reservation, even when clocks disagree (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: -120_000, max: 120_000 }),
        (limit, spent, lastedMs) => {
          const config: LimitConfig = { algorithm: 'fixed-window', limit, windowMs: 60_000 };
          const units = reserveUnits(config, { units: spent, lastedMs });
          expect(units).toBeGreaterThanOrEqual(0);
          expect(units).toBeLessThanOrEqual(Math.floor(limit / 100));
          expect(units).toBeLessThanOrEqual(Math.max(RESERVE_BASE, spent * RESERVE_GROWTH));
          expect(Number.isInteger(units)).toBe(true);
        },
      ),
    );
  });

  it('never reserves more than 1 % of the limit, whatever the pace', () => {
    const config: LimitConfig = { algorithm: 'sliding-window', limit: 20_000, windowMs: 60_000 };
    expect(reserveUnits(config, { units: 200, lastedMs: 1 })).toBe(200);
    expect(reserveUnits({ ...config, limit: 99 }, { units: 64, lastedMs: 1 })).toBe(0);
  });
});

describe('reserve', () => {
  const config: LimitConfig = { algorithm: 'fixed-window', limit: 100, windowMs: 60_000 };

  it('counts as many of the units as still fit', () => {
    const state = { windowStart: 0, current: 10, previous: 0, tat: 0 };
    expect(reserve(state, 5, config, 8)).toEqual({ ...state, current: 18 });
    expect(reserve({ ...state, current: 97 }, 5, config, 8)).toEqual({ ...state, current: 100 });
    expect(reserve({ ...state, current: 100 }, 5, config, 8)).toEqual({ ...state, current: 100 });
  });

  it('moves a GCRA arrival time on by the units that fit', () => {
    const g: LimitConfig = { algorithm: 'gcra', limit: 10, windowMs: 1000 };
    expect(reserve({ windowStart: 0, current: 0, previous: 0, tat: 1100 }, 1000, g, 3).tat).toBe(1400);
    expect(reserve({ windowStart: 0, current: 0, previous: 0, tat: 1950 }, 1000, g, 3).tat).toBe(1950);
  });
});

describe('covers', () => {
  const at = (windowStart: number, current: number, previous = 0, tat = 0): LimitState => ({ windowStart, current, previous, tat });

  it('fixed window: the same window, with at least the count', () => {
    const { covers } = ALGORITHMS['fixed-window'];
    expect(covers(at(0, 5), at(0, 5))).toBe(true);
    expect(covers(at(0, 6), at(0, 5))).toBe(true);
    expect(covers(at(0, 4), at(0, 5))).toBe(false);
    expect(covers(at(0, 9), at(1000, 1))).toBe(false);
  });

  it('sliding window: the same window, with at least both counts', () => {
    const { covers } = ALGORITHMS['sliding-window'];
    expect(covers(at(0, 5, 3), at(0, 5, 3))).toBe(true);
    expect(covers(at(0, 6, 3), at(0, 5, 3))).toBe(true);
    expect(covers(at(0, 9, 2), at(0, 5, 3))).toBe(false);
    expect(covers(at(0, 9, 9), at(1000, 1, 0))).toBe(false);
  });

  it('GCRA: an arrival time at least as late', () => {
    const { covers } = ALGORITHMS.gcra;
    expect(covers(at(0, 0, 0, 500), at(0, 0, 0, 500))).toBe(true);
    expect(covers(at(0, 0, 0, 501), at(0, 0, 0, 500))).toBe(true);
    expect(covers(at(0, 0, 0, 499), at(0, 0, 0, 500))).toBe(false);
  });
});

describe.each(['fixed-window', 'sliding-window', 'gcra'] as const)('%s with reservations', (name) => {
  it('admits exactly what it admits without them while the object lives', () => {
    fc.assert(
      fc.property(configs, arrivals, units, (c, seq, ahead) => {
        const config: LimitConfig = { algorithm: name, ...c };
        expect(run(name, config, seq, ahead, false)).toEqual(run(name, config, seq, 0, false));
      }),
    );
  });

  it('never admits more after restarts from storage: every admission replays as admitted', () => {
    fc.assert(
      fc.property(configs, arrivals, units, (c, seq, ahead) => {
        const config: LimitConfig = { algorithm: name, ...c };
        const algorithm = ALGORITHMS[name];
        let state: LimitState | undefined;
        for (const { now, cost } of run(name, config, seq, ahead, true)) {
          const step = algorithm.consume(state, now, config, cost, false);
          expect(step.decision.allowed).toBe(true);
          state = step.state;
        }
      }),
      { numRuns: 400 },
    );
  });

  it('covers a state with itself and with any reservation of it, and not with less', () => {
    fc.assert(
      fc.property(configs, arrivals, units, (c, seq, ahead) => {
        const config: LimitConfig = { algorithm: name, ...c };
        const algorithm = ALGORITHMS[name];
        let state: LimitState | undefined;
        let now = T0;
        for (const { gap, cost } of seq) {
          now += gap;
          const step = algorithm.consume(state, now, config, cost, false);
          if (state && step.decision.allowed) expect(algorithm.covers(state, step.state)).toBe(false);
          state = step.state;
          expect(algorithm.covers(state, state)).toBe(true);
          expect(algorithm.covers(reserve(state, now, config, ahead), state)).toBe(true);
        }
      }),
    );
  });
});
