import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS } from './registry';
import type { AlgorithmName, LimitConfig, LimitState } from './types';

const arrivals = fc.array(fc.record({ gap: fc.integer({ min: 0, max: 3000 }), cost: fc.integer({ min: 1, max: 3 }) }), { maxLength: 120 });
const configs = fc.record({ limit: fc.integer({ min: 1, max: 20 }), windowMs: fc.constantFrom(1000, 2000, 5000, 60_000) });

function simulate(name: AlgorithmName, config: LimitConfig, seq: Array<{ gap: number; cost: number }>) {
  const algorithm = ALGORITHMS[name];
  let state: LimitState | undefined;
  let now = 1_700_000_000_000;
  const log: Array<{
    now: number;
    cost: number;
    allowed: boolean;
    remaining: number;
    resetAt: number;
    retryAfterMs: number;
    stateBefore: LimitState | undefined;
  }> = [];
  for (const { gap, cost } of seq) {
    now += gap;
    const before = state;
    const t = algorithm.consume(state, now, config, cost, false);
    state = t.state;
    log.push({ now, cost, stateBefore: before, ...t.decision });
  }
  return log;
}

describe.each(['fixed-window', 'sliding-window', 'gcra'] as const)('%s invariants', (name) => {
  it('never reports negative remaining, and resets in the future of a refusal', () => {
    fc.assert(
      fc.property(configs, arrivals, (c, seq) => {
        for (const d of simulate(name, { algorithm: name, ...c }, seq)) {
          expect(d.remaining).toBeGreaterThanOrEqual(0);
          expect(d.remaining).toBeLessThanOrEqual(c.limit);
          if (!d.allowed) {
            expect(d.retryAfterMs).toBeGreaterThan(0);
            expect(d.resetAt).toBeGreaterThan(d.now);
          } else {
            expect(d.retryAfterMs).toBe(0);
          }
        }
      }),
    );
  });

  it('admits a refused request at its retry time if nothing else arrives', () => {
    fc.assert(
      fc.property(configs, arrivals, (c, seq) => {
        const config: LimitConfig = { algorithm: name, ...c };
        for (const d of simulate(name, config, seq)) {
          if (d.allowed || d.cost > c.limit) continue;
          const algorithm = ALGORITHMS[name];
          const state = algorithm.consume(d.stateBefore, d.now, config, d.cost, false).state;
          expect(algorithm.consume(state, d.now + d.retryAfterMs, config, d.cost, false).decision.allowed).toBe(true);
          if (d.retryAfterMs > 1)
            expect(algorithm.consume(state, d.now + d.retryAfterMs - 1, config, d.cost, false).decision.allowed).toBe(false);
        }
      }),
    );
  });

  it('refusing without counting leaves the state unchanged', () => {
    fc.assert(
      fc.property(configs, arrivals, (c, seq) => {
        const config: LimitConfig = { algorithm: name, ...c };
        for (const d of simulate(name, config, seq)) {
          if (d.allowed || !d.stateBefore) continue;
          const again = ALGORITHMS[name].consume(d.stateBefore, d.now, config, d.cost, false);
          const rolled = ALGORITHMS[name].consume(again.state, d.now, config, d.cost, false);
          expect(rolled.state).toEqual(again.state);
        }
      }),
    );
  });
});

describe('exact algorithms never admit more than the limit', () => {
  it('fixed window: at most `limit` units in any aligned window', () => {
    fc.assert(
      fc.property(configs, arrivals, (c, seq) => {
        const perWindow = new Map<number, number>();
        for (const d of simulate('fixed-window', { algorithm: 'fixed-window', ...c }, seq)) {
          if (!d.allowed) continue;
          const w = Math.floor(d.now / c.windowMs);
          perWindow.set(w, (perWindow.get(w) ?? 0) + d.cost);
        }
        for (const used of perWindow.values()) expect(used).toBeLessThanOrEqual(c.limit);
      }),
    );
  });

  it('GCRA: at most burst + rate × t units in any span of length t', () => {
    fc.assert(
      fc.property(configs, arrivals, (c, seq) => {
        const admitted = simulate('gcra', { algorithm: 'gcra', ...c }, seq).filter((d) => d.allowed);
        const interval = c.windowMs / c.limit;
        for (let i = 0; i < admitted.length; i++) {
          let units = 0;
          for (let j = i; j < admitted.length; j++) {
            units += admitted[j]!.cost;
            const span = admitted[j]!.now - admitted[i]!.now;
            expect(units).toBeLessThanOrEqual(c.limit + Math.floor(span / interval) + 1e-9);
          }
        }
      }),
    );
  });
});
