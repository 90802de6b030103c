import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CalendarPeriod, LONGEST_PERIOD_MS, PERIOD_UNITS, periodAt, wallClock } from './calendar-period';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Chatham',
  'America/Sao_Paulo',
] as const;
/** 1990 to 2100: leap years, the 2100 non-leap century year and decades of daylight-saving rules. */
const instant = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 11, 1) });
const pad = (n: number) => String(n).padStart(2, '0');
const localAnchor = fc
  .record({
    year: fc.integer({ min: 1995, max: 2090 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.constantFrom(0, 15, 30, 59),
  })
  .map(({ year, month, day, hour, minute }) => ({
    year,
    month,
    day: Math.min(day, new Date(Date.UTC(year, month, 0)).getUTCDate()),
    hour,
    minute,
  }));
const period = fc.record({
  unit: fc.constantFrom(...PERIOD_UNITS),
  timeZone: fc.constantFrom(...ZONES),
  anchor: fc.option(
    fc.oneof(
      localAnchor.map((a) => `${a.year}-${pad(a.month)}-${pad(a.day)}T${pad(a.hour)}:${pad(a.minute)}`),
      instant.map((ms) => new Date(ms).toISOString()),
    ),
    { nil: undefined },
  ),
}) as fc.Arbitrary<CalendarPeriod>;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

describe('calendar periods (property)', () => {
  it('the period at an instant contains it and lasts no longer than its unit can', () => {
    fc.assert(
      fc.property(instant, period, (now, p) => {
        const { start, end } = periodAt(now, p);
        expect(start).toBeLessThanOrEqual(now);
        expect(end).toBeGreaterThan(now);
        expect(end - start).toBeLessThanOrEqual(LONGEST_PERIOD_MS[p.unit]);
      }),
      { numRuns: 400 },
    );
  });

  it('periods tile time: the period at an end starts there, and the period at a start is itself', () => {
    fc.assert(
      fc.property(instant, period, (now, p) => {
        const { start, end } = periodAt(now, p);
        expect(periodAt(end, p).start).toBe(end);
        expect(periodAt(start, p)).toEqual({ start, end });
        expect(periodAt(start - 1, p).end).toBe(start);
      }),
      { numRuns: 300 },
    );
  });

  it('months reset on the anchor day, or on the last day of months too short for it, at the anchor time (UTC)', () => {
    fc.assert(
      fc.property(instant, localAnchor, (now, a) => {
        const anchor = `${a.year}-${pad(a.month)}-${pad(a.day)}T${pad(a.hour)}:${pad(a.minute)}`;
        const { start, end } = periodAt(now, { unit: 'month', anchor });
        for (const boundary of [start, end]) {
          const w = wallClock(boundary);
          expect(w.day).toBe(Math.min(a.day, daysIn(w.year, w.month)));
          expect(w.timeOfDay).toBe((a.hour * 60 + a.minute) * 60_000);
        }
        // Consecutive boundaries are one calendar month apart.
        const [s, e] = [wallClock(start), wallClock(end)];
        expect(e.year * 12 + e.month - (s.year * 12 + s.month)).toBe(1);
      }),
      { numRuns: 400 },
    );
  });

  it('a month lasts its calendar length: 28 to 31 days in UTC, the days between its boundary dates', () => {
    fc.assert(
      fc.property(instant, localAnchor, (now, a) => {
        const { start, end } = periodAt(now, { unit: 'month', anchor: `${a.year}-${pad(a.month)}-${pad(a.day)}` });
        const days = (end - start) / 86_400_000;
        expect(Number.isInteger(days)).toBe(true);
        expect(days).toBeGreaterThanOrEqual(28);
        expect(days).toBeLessThanOrEqual(31);
        const s = wallClock(start);
        if (a.day <= 28) expect(days).toBe(daysIn(s.year, s.month));
      }),
      { numRuns: 300 },
    );
  });

  it('years anchored on 29 February last 365 or 366 days and start on 29 February exactly in leap years', () => {
    const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    fc.assert(
      fc.property(instant, (now) => {
        const { start, end } = periodAt(now, { unit: 'year', anchor: '2024-02-29' });
        const s = wallClock(start);
        expect(s.month).toBe(2);
        expect(s.day).toBe(isLeap(s.year) ? 29 : 28);
        expect([365, 366]).toContain((end - start) / 86_400_000);
      }),
      { numRuns: 300 },
    );
  });

  it('in any zone, boundaries fall at the anchor wall time on the anchor day (unless a daylight-saving gap skips that time)', () => {
    fc.assert(
      fc.property(
        instant,
        localAnchor,
        fc.constantFrom(...ZONES),
        fc.constantFrom('day', 'week', 'month', 'year' as const),
        (now, a, timeZone, unit) => {
          const anchor = `${a.year}-${pad(a.month)}-${pad(a.day)}T${pad(a.hour)}:${pad(a.minute)}`;
          const { start } = periodAt(now, { unit, anchor, timeZone });
          const w = wallClock(start, timeZone);
          const wanted = (a.hour * 60 + a.minute) * 60_000;
          // A skipped wall time lands within the gap's length (at most an hour) of it.
          expect(Math.abs(w.timeOfDay - wanted) <= 3_600_000 || Math.abs(w.timeOfDay - wanted) >= 86_400_000 - 3_600_000).toBe(true);
          if (w.timeOfDay === wanted) {
            if (unit === 'month') expect(w.day).toBe(Math.min(a.day, daysIn(w.year, w.month)));
            if (unit === 'year') expect([w.month, w.day]).toEqual([a.month, Math.min(a.day, daysIn(w.year, a.month))]);
            if (unit === 'week')
              expect((((w.dayIndex - Math.floor(Date.UTC(a.year, a.month - 1, a.day) / 86_400_000)) % 7) + 7) % 7).toBe(0);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
