import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concurrency } from './concurrency';
import type { LimitConfig, LimitState } from './types';

const T0 = 1_800_000_000_000;

/** Requests arriving `gap` ms apart, each holding its slot `hold` ms, or forever (its holder vanished). */
const traffic = fc.array(
  fc.record({ gap: fc.integer({ min: 0, max: 2000 }), hold: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }) }),
  { maxLength: 80 },
);
const configs = fc.record({
  limit: fc.integer({ min: 0, max: 6 }),
  windowMs: fc.constantFrom(1000, 5000, 60_000),
});

/** Runs the traffic against the algorithm in time order, releases included; returns each decision with the true number in flight. */
function simulate(config: LimitConfig, arrivals: Array<{ gap: number; hold: number | undefined }>) {
  const events: Array<{ at: number; kind: 'arrive'; hold: number | undefined } | { at: number; kind: 'release'; takenAt: number }> = [];
  let now = T0;
  for (const a of arrivals) {
    now += a.gap;
    events.push({ at: now, kind: 'arrive', hold: a.hold });
  }
  let state: LimitState | undefined;
  const holding: Array<{ takenAt: number; until: number }> = [];
  const log: Array<{ at: number; allowed: boolean; used: number; inFlight: number; retryAfterMs: number }> = [];
  // Process arrivals in order, interleaving releases due before each.
  for (const e of events) {
    if (e.kind !== 'arrive') continue;
    holding.sort((a, b) => a.until - b.until);
    while (holding.length > 0 && holding[0]!.until <= e.at) {
      const h = holding.shift()!;
      state = state && concurrency.release(state, h.until, config, 1, h.takenAt);
    }
    const t = concurrency.consume(state, e.at, config, 1, false);
    state = t.state;
    if (t.decision.allowed && e.hold !== undefined) holding.push({ takenAt: e.at, until: e.at + e.hold });
    // The requests truly in flight: released ones are gone, vanished ones count until their lease ends.
    log.push({
      at: e.at,
      allowed: t.decision.allowed,
      used: t.decision.used,
      inFlight: state.slots!.length,
      retryAfterMs: t.decision.retryAfterMs,
    });
  }
  return log;
}

describe('concurrency invariants', () => {
  it('never holds more slots than the limit, and reports what it holds', () => {
    fc.assert(
      fc.property(configs, traffic, (c, arrivals) => {
        for (const d of simulate({ algorithm: 'concurrency', ...c }, arrivals)) {
          expect(d.inFlight).toBeLessThanOrEqual(c.limit);
          expect(d.used).toBe(d.inFlight);
          if (d.allowed) expect(d.retryAfterMs).toBe(0);
          else expect(d.retryAfterMs).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('leaks no slot: once every lease has ended, the whole limit is free', () => {
    fc.assert(
      fc.property(configs, traffic, (c, arrivals) => {
        const config: LimitConfig = { algorithm: 'concurrency', ...c };
        let state: LimitState | undefined;
        let now = T0;
        for (const a of arrivals) {
          now += a.gap;
          state = concurrency.consume(state, now, config, 1, false).state;
        }
        expect(concurrency.peek(state, now + c.windowMs, config)).toMatchObject({ used: 0, remaining: c.limit });
      }),
    );
  });

  it('never waits past the end of the first lease: a refused request is admitted then, whatever else happens', () => {
    fc.assert(
      fc.property(configs, traffic, (c, arrivals) => {
        const config: LimitConfig = { algorithm: 'concurrency', ...c };
        if (c.limit === 0) return;
        let state: LimitState | undefined;
        let now = T0;
        for (const a of arrivals) {
          now += a.gap;
          const t = concurrency.consume(state, now, config, 1, false);
          if (!t.decision.allowed) {
            const firstLeaseEnd = state!.slots![0]!;
            expect(now + t.decision.retryAfterMs).toBeLessThanOrEqual(firstLeaseEnd);
            expect(concurrency.consume(t.state, firstLeaseEnd, config, 1, false).decision.allowed).toBe(true);
          }
          state = t.state;
        }
      }),
    );
  });

  it('a state it covers admits no less: restarting from the stored state never admits more', () => {
    fc.assert(
      fc.property(configs, traffic, fc.integer({ min: 0, max: 79 }), (c, arrivals, cut) => {
        const config: LimitConfig = { algorithm: 'concurrency', ...c };
        let stored: LimitState | undefined;
        let live: LimitState | undefined;
        let now = T0;
        for (const [i, a] of arrivals.entries()) {
          now += a.gap;
          const t = concurrency.consume(live, now, config, 1, false);
          live = a.hold !== undefined && t.decision.allowed ? concurrency.release(t.state, now + a.hold, config, 1, now) : t.state;
          if (i <= cut || !stored || !concurrency.covers(stored, live)) stored = live;
          for (const later of [now, now + 1000, now + 30_000]) {
            expect(concurrency.peek(stored, later, config).remaining).toBeLessThanOrEqual(concurrency.peek(live, later, config).remaining);
          }
        }
      }),
    );
  });
});
