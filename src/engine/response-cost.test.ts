import { describe, expect, it } from 'vitest';
import { costDifference, reportedCost } from './response-cost';

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
