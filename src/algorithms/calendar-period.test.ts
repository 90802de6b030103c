import { describe, expect, it } from 'vitest';
import { anchorError, type CalendarPeriod, isTimeZone, periodAt } from './calendar-period';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const bounds = (now: string, period: CalendarPeriod) => {
  const { start, end } = periodAt(at(now), period);
  return [iso(start), iso(end)];
};

describe('periodAt', () => {
  it.each([
    ['2026-03-17T10:00:00Z', { unit: 'day' }, ['2026-03-17T00:00:00.000Z', '2026-03-18T00:00:00.000Z']],
    ['2026-03-17T10:00:00Z', { unit: 'week' }, ['2026-03-16T00:00:00.000Z', '2026-03-23T00:00:00.000Z']],
    ['2026-03-17T10:00:00Z', { unit: 'month' }, ['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z']],
    ['2026-03-17T10:00:00Z', { unit: 'year' }, ['2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']],
  ] as const)('without an anchor, %s in a %o period is the calendar unit (weeks start on Monday)', (now, period, expected) => {
    expect(bounds(now, period)).toEqual(expected);
  });

  it('a billing anchor on the 17th resets on the 17th at the anchor time', () => {
    const period = { unit: 'month', anchor: '2026-03-17T00:00:00Z' } as const;
    expect(bounds('2026-04-16T23:59:59.999Z', period)).toEqual(['2026-03-17T00:00:00.000Z', '2026-04-17T00:00:00.000Z']);
    expect(bounds('2026-04-17T00:00:00Z', period)).toEqual(['2026-04-17T00:00:00.000Z', '2026-05-17T00:00:00.000Z']);
    // Anchors in the future work the same way: boundaries before them follow the same calendar.
    expect(bounds('2025-12-20T00:00:00Z', period)).toEqual(['2025-12-17T00:00:00.000Z', '2026-01-17T00:00:00.000Z']);
  });

  it('an anchor on the 31st resets on the last day of shorter months, and on the 31st again after them', () => {
    const period = { unit: 'month', anchor: '2026-01-31' } as const;
    expect(bounds('2026-02-10T00:00:00Z', period)).toEqual(['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(bounds('2026-03-10T00:00:00Z', period)).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
    expect(bounds('2026-04-10T00:00:00Z', period)).toEqual(['2026-03-31T00:00:00.000Z', '2026-04-30T00:00:00.000Z']);
    expect(bounds('2028-02-10T00:00:00Z', period)).toEqual(['2028-01-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z']);
  });

  it('a year anchored on 29 February resets on 28 February in common years', () => {
    const period = { unit: 'year', anchor: '2024-02-29' } as const;
    expect(bounds('2025-06-01T00:00:00Z', period)).toEqual(['2025-02-28T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(bounds('2028-03-01T00:00:00Z', period)).toEqual(['2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z']);
  });

  it('a local anchor is read in the period time zone, so boundaries follow its daylight-saving changes', () => {
    const period = { unit: 'month', anchor: '2026-01-15T09:00', timeZone: 'Europe/Berlin' } as const;
    // 09:00 in Berlin is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
    expect(bounds('2026-03-20T00:00:00Z', period)).toEqual(['2026-03-15T08:00:00.000Z', '2026-04-15T07:00:00.000Z']);
    const day = { unit: 'day', timeZone: 'America/New_York' } as const;
    // 8 March 2026 in New York lasts 23 hours.
    expect(bounds('2026-03-08T12:00:00Z', day)).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
  });

  it('an instant anchor is read as its date and time in the period time zone', () => {
    // 2026-03-17T00:00Z is 16 March, 20:00 in New York.
    expect(bounds('2026-04-20T00:00:00Z', { unit: 'month', anchor: '2026-03-17T00:00:00Z', timeZone: 'America/New_York' })).toEqual([
      '2026-04-17T00:00:00.000Z',
      '2026-05-17T00:00:00.000Z',
    ]);
    expect(bounds('2026-04-16T12:00:00Z', { unit: 'month', anchor: '2026-03-17T00:00:00Z', timeZone: 'America/New_York' })).toEqual([
      '2026-03-17T00:00:00.000Z',
      '2026-04-17T00:00:00.000Z',
    ]);
  });

  it('a weekly anchor resets on its weekday', () => {
    // 2026-03-19 is a Thursday.
    expect(bounds('2026-03-30T00:00:00Z', { unit: 'week', anchor: '2026-03-19T12:00' })).toEqual([
      '2026-03-26T12:00:00.000Z',
      '2026-04-02T12:00:00.000Z',
    ]);
  });
});

describe('anchorError and isTimeZone', () => {
  it.each(['2026-03-17', '2026-03-17T09:00', '2026-03-17T09:00:30.5', '2026-03-17T00:00:00Z', '2026-03-17T00:00:00+05:30'])(
    'accepts %s',
    (anchor) => {
      expect(anchorError(anchor)).toBeUndefined();
    },
  );
  it.each(['2026-02-30', '2026-13-01', '2026-03-17T24:00', 'next tuesday', '17/03/2026'])('refuses %s, saying why', (anchor) => {
    expect(anchorError(anchor)).toContain(anchor);
  });
  it('knows IANA zones and refuses made-up ones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
