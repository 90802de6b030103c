import { describe, expect, it } from 'vitest';
import type { LimitDecision } from '../algorithms/types';
import { type AdvancedLimit, costDifference, reportedCost, resultsAfterResponse, settledUnits } from './response-cost';

const setting = { header: 'X-Cost', max: 1000, keep: false };
const read = (value?: string) => reportedCost(new Headers(value === undefined ? {} : { 'X-Cost': value }), setting);

describe('reportedCost', () => {
  it.each([
    ['10', 10],
    ['0', 0],
    [' 42 ', 42],
    ['007', 7],
    ['1000', 1000],
  ])('reads %j as %d units', (value, units) => {
    expect(read(value)).toEqual({ kind: 'units', units, capped: false });
  });

  it('bounds a value above max by max, and says it was capped', () => {
    expect(read('1001')).toEqual({ kind: 'units', units: 1000, capped: true });
    expect(read('999999999999999')).toEqual({ kind: 'units', units: 1000, capped: true });
  });

  it('reads the header whatever the case of its name', () => {
    expect(reportedCost(new Headers({ 'x-cost': '3' }), setting)).toEqual({ kind: 'units', units: 3, capped: false });
  });

  it('tells a missing header from a malformed one', () => {
    expect(read()).toEqual({ kind: 'missing' });
  });

  it.each(['', ' ', '-1', '2.5', '1e3', '0x10', 'ten', '10 points', 'Infinity', '10, 20', '1234567890123456'])(
    'refuses %j as malformed',
    (value) => {
      expect(read(value)).toEqual({ kind: 'malformed' });
    },
  );
});

describe('costDifference', () => {
  it.each([
    [10, 1, 9],
    [1, 1, 0],
    [0, 1, -1],
    [3, 5, -2],
    [0, 0, 0],
  ])('reported %d on an advance of %d settles %d', (units, advance, difference) => {
    expect(costDifference(units, advance)).toBe(difference);
  });

  it('never gives back more than the advance', () => {
    for (const advance of [0, 1, 7, 1000]) expect(costDifference(0, advance) + advance).toBe(0);
  });
});

describe('settledUnits', () => {
  const limit: AdvancedLimit = { setting, advance: 4, givesBack: true };

  it('charges above the advance and gives back below it', () => {
    expect(settledUnits(limit, 200, 10)).toBe(6);
    expect(settledUnits(limit, 200, 1)).toBe(-3);
    expect(settledUnits(limit, 200, 4)).toBe(0);
  });

  it('settles nothing for an unusable value, a status countWhen does not keep, or a give-back under a lease', () => {
    expect(settledUnits(limit, 200, undefined)).toBe(0);
    const kept = { ...limit, countWhen: (status: number) => status < 300 };
    expect(settledUnits(kept, 500, 10)).toBe(0);
    expect(settledUnits(kept, 201, 10)).toBe(6);
    const leased = { ...limit, givesBack: false };
    expect(settledUnits(leased, 200, 1)).toBe(0);
    expect(settledUnits(leased, 200, 10)).toBe(6);
  });
});

describe('resultsAfterResponse', () => {
  const decision = (used: number, remaining: number): LimitDecision => ({
    allowed: true,
    limit: 100,
    remaining,
    used,
    resetAt: 60_000,
    retryAfterMs: 0,
  });
  const results = [{ decision: decision(1, 99) }, { decision: decision(30, 70) }];
  const advanced = new Map<number, AdvancedLimit>([[0, { setting, advance: 1, givesBack: true }]]);
  const after = (value: string | undefined, status = 200) =>
    resultsAfterResponse(results, advanced, status, new Headers(value === undefined ? {} : { 'X-Cost': value })).map((r) => [
      r.decision.used,
      r.decision.remaining,
    ]);

  it('moves only the limits whose cost the response reports, by the difference', () => {
    expect(after('10')).toEqual([
      [10, 90],
      [30, 70],
    ]);
    expect(after('0')).toEqual([
      [0, 100],
      [30, 70],
    ]);
  });

  it('never shows less than nothing remaining, and caps the charge at max', () => {
    expect(after('5000')[0]).toEqual([1000, 0]);
  });

  it('returns the results themselves when nothing moves', () => {
    expect(resultsAfterResponse(results, advanced, 200, new Headers())).toBe(results);
    expect(resultsAfterResponse(results, advanced, 200, new Headers({ 'X-Cost': '1' }))).toBe(results);
  });
});
