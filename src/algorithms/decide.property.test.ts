import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BanState, decideKey, type LimitRequest } from './decide';
import { algorithmFor } from './registry';
import type { AlgorithmName, LimitState } from './types';

/** One key's storage, driven the way the Durable Object drives it: read, decide, write. */
function store() {
  const limits = new Map<string, LimitState>();
  const bans = new Map<string, BanState>();
  return {
    limits,
    check(now: number, requests: readonly LimitRequest[]) {
      const t = decideKey(
        (id) => limits.get(id),
        (rule) => bans.get(rule),
        { now, limits: requests },
      );
      for (const [id, s] of t.limitWrites) limits.set(id, s);
      for (const [rule, s] of t.banWrites) bans.set(rule, s);
      return t;
    },
    release(now: number, request: LimitRequest, countedAt: number) {
      const state = limits.get(request.id);
      if (state)
        limits.set(request.id, algorithmFor(request.config.algorithm).release(state, now, request.config, request.cost, countedAt));
    },
  };
}

const T0 = 1_800_000_000_000;
const windowMs = fc.constantFrom(1000, 2000, 5000, 60_000);
const limitOf = (algorithm: AlgorithmName) =>
  fc.record({ limit: fc.integer({ min: 1, max: 12 }), windowMs, countRefused: fc.boolean() }).map(
    ({ limit, windowMs, countRefused }, i = 0): LimitRequest => ({
      id: `r${i}/${algorithm}-${limit}-${windowMs}`,
      config: { algorithm, limit, windowMs },
      cost: 1,
      countRefused,
      shadow: false,
    }),
  );
/** One to three limits on one key, with distinct ids. */
const limitSet = (algorithms: AlgorithmName[]) =>
  fc
    .array(fc.constantFrom(...algorithms).chain(limitOf), { minLength: 1, maxLength: 3 })
    .map((ls) => ls.map((l, i) => ({ ...l, id: `${i}:${l.id}` })));
/** Arrivals: a time step (negative steps are callers with lagging clocks), a cost, and whether the origin later fails (a release). */
const arrivals = (maxLag: number) =>
  fc.array(fc.record({ step: fc.integer({ min: -maxLag, max: 2500 }), cost: fc.integer({ min: 1, max: 3 }), fails: fc.boolean() }), {
    maxLength: 150,
  });

describe('one key, several limits (property)', () => {
  it('a decision is all or nothing: admitted requests are counted by every limit, refused ones by only those that count refusals', () => {
    fc.assert(
      fc.property(limitSet(['fixed-window', 'sliding-window', 'gcra']), arrivals(1500), (limits, seq) => {
        const s = store();
        let now = T0;
        for (const { step, cost } of seq) {
          now += step;
          const requests = limits.map((l) => ({ ...l, cost }));
          const before = new Map(requests.map((l) => [l.id, s.limits.get(l.id)]));
          const { decision, limitWrites } = s.check(now, requests);
          expect(decision.allowed).toBe(decision.outcomes.every((o) => o.decision.allowed));
          for (const [j, l] of requests.entries()) {
            const outcome = decision.outcomes[j]!;
            if (decision.allowed) expect(outcome.counted).toBe(true);
            else expect(outcome.counted).toBe(l.countRefused);
            if (!outcome.counted) expect(limitWrites.has(l.id) ? limitWrites.get(l.id) : before.get(l.id)).toEqual(before.get(l.id));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('fixed and sliding windows: admitted units in any aligned window never exceed the limit plus what was given back in it, whatever the clock skew', () => {
    fc.assert(
      fc.property(limitSet(['fixed-window', 'sliding-window']), arrivals(5000), (limits, seq) => {
        const s = store();
        let now = T0;
        // Per limit and window start: units admitted, units released back.
        const ledger = new Map<string, { admitted: number; released: number }>();
        const entry = (id: string, start: number) => {
          const k = `${id}@${start}`;
          let e = ledger.get(k);
          if (!e) ledger.set(k, (e = { admitted: 0, released: 0 }));
          return e;
        };
        for (const { step, cost, fails } of seq) {
          now += step;
          const requests = limits.map((l) => ({ ...l, cost }));
          const { decision } = s.check(now, requests);
          if (!decision.allowed) continue;
          for (const l of requests) {
            // The window the object counted in: the stored window start, which never goes backwards.
            const start = s.limits.get(l.id)!.windowStart;
            entry(l.id, start).admitted += cost;
            if (fails) {
              const before = s.limits.get(l.id)!;
              s.release(now, l, now);
              const after = s.limits.get(l.id)!;
              entry(l.id, start).released += before.current - after.current;
            }
          }
          for (const l of requests) expect(s.limits.get(l.id)!.current).toBeLessThanOrEqual(l.config.limit);
        }
        for (const [k, e] of ledger) {
          const limit = limits.find((l) => k.startsWith(`${l.id}@`))!.config.limit;
          expect(e.admitted - e.released).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('GCRA limits in a joint decision: at most burst + rate × t units in any span of length t', () => {
    fc.assert(
      fc.property(limitSet(['gcra', 'fixed-window']), fc.integer({ min: 1, max: 12 }), arrivals(0), (limits, burst, seq) => {
        const withBurst = limits.map((l) => (l.config.algorithm === 'gcra' ? { ...l, config: { ...l.config, burst } } : l));
        const s = store();
        let now = T0;
        const admitted: Array<{ now: number; cost: number }> = [];
        for (const { step, cost } of seq) {
          now += Math.max(0, step);
          if (
            s.check(
              now,
              withBurst.map((l) => ({ ...l, cost })),
            ).decision.allowed
          )
            admitted.push({ now, cost });
        }
        for (const l of withBurst.filter((x) => x.config.algorithm === 'gcra')) {
          const interval = l.config.windowMs / l.config.limit;
          for (let i = 0; i < admitted.length; i++) {
            let units = 0;
            for (let j = i; j < admitted.length; j++) {
              units += admitted[j]!.cost;
              expect(units).toBeLessThanOrEqual(burst + Math.floor((admitted[j]!.now - admitted[i]!.now) / interval + 1e-9));
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a stored count never exceeds the limit unless refusals are counted, for any arrivals and clock skew', () => {
    fc.assert(
      fc.property(limitSet(['fixed-window', 'sliding-window']), arrivals(10_000), (limits, seq) => {
        const s = store();
        let now = T0;
        for (const { step, cost } of seq) {
          now += step;
          s.check(
            now,
            limits.map((l) => ({ ...l, cost })),
          );
          for (const l of limits) if (!l.countRefused) expect(s.limits.get(l.id)?.current ?? 0).toBeLessThanOrEqual(l.config.limit);
        }
      }),
      { numRuns: 300 },
    );
  });
});
