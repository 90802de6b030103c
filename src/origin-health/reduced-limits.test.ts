import { describe, expect, it } from 'vitest';
import { fixedWindow } from '../algorithms/fixed-window';
import { slidingWindow } from '../algorithms/sliding-window';
import type { LimitConfig } from '../algorithms/types';
import type { CompiledLimit } from '../policy/compile';
import { fitsFullLimit, reducedLimit } from './reduced-limits';

const limitOf = (config: LimitConfig): CompiledLimit => ({ id: 'r/1m', name: '1m', rule: 'r', config });
const fixed = limitOf({ algorithm: 'fixed-window', limit: 60, windowMs: 60_000 });

describe('reduced limits', () => {
  it.each([
    [1, 60],
    [0.5, 30],
    [0.25, 15],
    [0.1, 6],
    [0.01, 1],
  ])('at factor %s a limit of 60 admits %s, on the same counter', (factor, limit) => {
    const reduced = reducedLimit(fixed, factor);
    expect(reduced.config.limit).toBe(limit);
    expect(reduced.id).toBe(fixed.id);
    expect(reduced.config.windowMs).toBe(60_000);
  });

  it('keeps the full limit in reducedFrom, and the same object for the same factor', () => {
    const reduced = reducedLimit(fixed, 0.5);
    expect(reduced.reducedFrom).toBe(fixed);
    expect(reducedLimit(fixed, 0.5)).toBe(reduced);
    expect(reducedLimit(fixed, 0.3).config.limit).toBe(18);
  });

  it('leaves gcra limits (an override may set one) and limits of 0 whole', () => {
    const gcra = limitOf({ algorithm: 'gcra', limit: 10, windowMs: 1000 });
    const zero = limitOf({ algorithm: 'fixed-window', limit: 0, windowMs: 1000 });
    expect(reducedLimit(gcra, 0.5)).toBe(gcra);
    expect(reducedLimit(zero, 0.5)).toBe(zero);
  });

  describe('a refusal by a reduced limit', () => {
    for (const [name, algorithm] of [
      ['fixed-window', fixedWindow],
      ['sliding-window', slidingWindow],
    ] as const) {
      it(`${name}: is a capacity refusal exactly while the full limit would have admitted the request`, () => {
        const full = limitOf({ algorithm: name, limit: 10, windowMs: 60_000 });
        const reduced = reducedLimit(full, 0.5);
        for (const cost of [1, 3]) {
          for (let used = 0; used <= 12; used++) {
            const state = used === 0 ? undefined : algorithm.consume(undefined, 1000, full.config, used, true).state;
            for (const countRefused of [false, true]) {
              const atReduced = algorithm.consume(state, 2000, reduced.config, cost, countRefused).decision;
              const atFull = algorithm.consume(state, 2000, full.config, cost, false).decision;
              if (atReduced.allowed) continue;
              expect(
                fitsFullLimit(reduced, atReduced, cost, countRefused),
                `used ${used}, cost ${cost}, countRefused ${countRefused}`,
              ).toBe(atFull.allowed);
            }
          }
        }
      });
    }

    it('is never a capacity refusal when the limit was not reduced, or admitted', () => {
      const refused = fixedWindow.consume(undefined, 0, { ...fixed.config, limit: 0 }, 1, false).decision;
      expect(fitsFullLimit(fixed, refused, 1, false)).toBe(false);
      const admitted = fixedWindow.consume(undefined, 0, fixed.config, 1, false).decision;
      expect(fitsFullLimit(reducedLimit(fixed, 0.5), admitted, 1, false)).toBe(false);
    });
  });
});
