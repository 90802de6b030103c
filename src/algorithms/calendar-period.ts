/**
 * Calendar periods: a day, a week, a month or a year, whose boundaries fall
 * on an anchor's date and time of day in a time zone. Months are calendar
 * months: an anchor on the 31st resets on the last day of shorter months
 * (and on the 31st again where a month has one); a year anchored on
 * 29 February resets on 28 February in common years.
 *
 * Pure: every function takes the time it works on. Time zones come from
 * `Intl` (the IANA names Workers and Node know); boundaries are computed in
 * the zone's wall-clock time, so a day period that spans a daylight-saving
 * change lasts 23 or 25 hours. A boundary whose wall-clock time does not
 * exist that day (skipped by a daylight-saving change) falls at the instant
 * the zone's offset before the change gives it.
 */

export const PERIOD_UNITS = ['day', 'week', 'month', 'year'] as const;
export type PeriodUnit = (typeof PERIOD_UNITS)[number];

/** A calendar period as a limit's configuration carries it: plain, serialisable data. */
export interface CalendarPeriod {
  readonly unit: PeriodUnit;
  /**
   * Where boundaries fall: a date (`2026-03-17`), a local date and time read
   * in `timeZone` (`2026-03-17T09:00`), or an instant with an offset
   * (`2026-03-17T00:00:00Z`) whose date and time in `timeZone` are used.
   * Without it: midnight, on Mondays (week), the 1st (month), 1 January (year).
   */
  readonly anchor?: string | undefined;
  /** An IANA time zone such as `Europe/Berlin`; UTC without it. */
  readonly timeZone?: string | undefined;
}

/** The period containing an instant: `start <= now < end`, epoch milliseconds. */
export interface PeriodBounds {
  readonly start: number;
  readonly end: number;
}

/** The longest a period of each unit can last, in milliseconds (a 25-hour day, a 31-day month, a 366-day year, each with an hour's daylight-saving change). */
export const LONGEST_PERIOD_MS: Readonly<Record<PeriodUnit, number>> = Object.freeze({
  day: 25 * 3_600_000,
  week: 7 * 86_400_000 + 3_600_000,
  month: 31 * 86_400_000 + 3_600_000,
  year: 366 * 86_400_000 + 3_600_000,
});

/**
 * A unit's nominal length in milliseconds (a month is 30 days, a year 365):
 * what `RateLimit-Policy`'s `w` and the quota endpoint's `windowSeconds` show
 * for a period; its real bounds come from {@link periodAt}.
 */
export const NOMINAL_PERIOD_MS: Readonly<Record<PeriodUnit, number>> = Object.freeze({
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
  year: 365 * 86_400_000,
});

const DAY_MS = 86_400_000;

/** A wall-clock reading: calendar fields in some zone. `dayIndex` counts days from 1970-01-01 of the calendar date. */
interface Wall {
  readonly year: number;
  /** 1–12 */
  readonly month: number;
  readonly day: number;
  /** Milliseconds since the wall-clock midnight. */
  readonly timeOfDay: number;
  readonly dayIndex: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const isUtc = (timeZone: string | undefined): boolean => timeZone === undefined || timeZone === 'UTC' || timeZone === 'Etc/UTC';

/** Whether `Intl` knows a time zone by this name. */
export function isTimeZone(timeZone: string): boolean {
  if (isUtc(timeZone)) return true;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `timeZone` at an instant. */
export function wallClock(epoch: number, timeZone?: string): Wall {
  const ms = ((epoch % 1000) + 1000) % 1000;
  let year: number, month: number, day: number, hour: number, minute: number, second: number;
  if (isUtc(timeZone)) {
    const d = new Date(epoch);
    [year, month, day, hour, minute, second] = [
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
    ];
  } else {
    const parts: Record<string, number> = {};
    for (const p of formatterFor(timeZone!).formatToParts(epoch)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    [year, month, day, hour, minute, second] = [parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!];
  }
  const dayStart = Date.UTC(year, month - 1, day);
  return { year, month, day, timeOfDay: ((hour * 60 + minute) * 60 + second) * 1000 + ms, dayIndex: Math.floor(dayStart / DAY_MS) };
}

/** The zone's offset from UTC at an instant, in milliseconds (positive east of Greenwich). */
function offsetAt(epoch: number, timeZone: string): number {
  const w = wallClock(epoch, timeZone);
  return w.dayIndex * DAY_MS + w.timeOfDay - epoch;
}

/** The instant a wall-clock time (day `dayIndex`, `timeOfDay` ms after midnight) has in `timeZone`. */
export function instantOf(dayIndex: number, timeOfDay: number, timeZone?: string): number {
  const local = dayIndex * DAY_MS + timeOfDay;
  if (isUtc(timeZone)) return local;
  const first = offsetAt(local, timeZone!);
  const guess = local - first;
  const second = offsetAt(guess, timeZone!);
  // Past a change the first guess used the wrong side's offset; a wall time in a gap keeps the earlier offset.
  if (second === first) return guess;
  const retry = local - second;
  return offsetAt(retry, timeZone!) === second ? retry : guess;
}

const LOCAL_ANCHOR = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?$/;

/** Why an anchor cannot be read, or `undefined` when it can. */
export function anchorError(anchor: string): string | undefined {
  const local = LOCAL_ANCHOR.exec(anchor);
  if (local) {
    const [y, mo, d, h = '0', mi = '0', s = '0'] = local.slice(1);
    const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) return `${anchor} is not a calendar date`;
    if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return `${anchor} is not a time of day`;
    return undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(anchor) && Number.isFinite(Date.parse(anchor)))
    return undefined;
  return `${anchor} is not a date such as "2026-03-17", a local time such as "2026-03-17T09:00" or an instant such as "2026-03-17T00:00:00Z"`;
}

/** The anchor's wall-clock reading in the period's zone. */
function anchorWall(period: CalendarPeriod): Wall {
  const anchor = period.anchor;
  // Monday 1 January 2001, midnight: the start of weeks, months and years.
  if (anchor === undefined) return { year: 2001, month: 1, day: 1, timeOfDay: 0, dayIndex: 11_323 };
  const local = LOCAL_ANCHOR.exec(anchor);
  if (local) {
    const [y, mo, d, h, mi, s, frac] = local.slice(1);
    const dayIndex = Math.floor(Date.UTC(Number(y), Number(mo) - 1, Number(d)) / DAY_MS);
    const timeOfDay = ((Number(h ?? 0) * 60 + Number(mi ?? 0)) * 60 + Number(s ?? 0)) * 1000 + Number((frac ?? '0').padEnd(3, '0'));
    return { year: Number(y), month: Number(mo), day: Number(d), timeOfDay, dayIndex };
  }
  const epoch = Date.parse(anchor);
  if (!Number.isFinite(epoch)) throw new RangeError(anchorError(anchor) ?? `bad anchor ${anchor}`);
  return wallClock(epoch, period.timeZone);
}

const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();
const dayIndexOf = (year: number, month: number, day: number): number => Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);
const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/**
 * The boundaries of a unit as a sequence: `index(wall)` numbers the period a
 * wall-clock date falls in (roughly), `boundary(k)` is the instant period `k` starts.
 */
function sequence(period: CalendarPeriod): { index(w: Wall): number; boundary(k: number): number } {
  const a = anchorWall(period);
  const zone = period.timeZone;
  switch (period.unit) {
    case 'day':
      return { index: (w) => w.dayIndex, boundary: (k) => instantOf(k, a.timeOfDay, zone) };
    case 'week':
      return { index: (w) => floorDiv(w.dayIndex - a.dayIndex, 7), boundary: (k) => instantOf(a.dayIndex + 7 * k, a.timeOfDay, zone) };
    case 'month':
      return {
        index: (w) => w.year * 12 + (w.month - 1),
        boundary: (k) => {
          const year = floorDiv(k, 12);
          const month = k - year * 12 + 1;
          return instantOf(dayIndexOf(year, month, Math.min(a.day, daysInMonth(year, month))), a.timeOfDay, zone);
        },
      };
    case 'year':
      return {
        index: (w) => w.year,
        boundary: (k) => instantOf(dayIndexOf(k, a.month, Math.min(a.day, daysInMonth(k, a.month))), a.timeOfDay, zone),
      };
  }
}

/**
 * The period of `period` that contains `now`.
 *
 * @example
 * periodAt(Date.parse('2026-02-20T12:00:00Z'), { unit: 'month', anchor: '2026-01-31' });
 * // { start: 2026-01-31T00:00Z, end: 2026-02-28T00:00Z } (as epoch ms)
 */
export function periodAt(now: number, period: CalendarPeriod): PeriodBounds {
  // A key's requests mostly fall in the period its last one did.
  const last = lastBounds.get(period);
  if (last && last.start <= now && now < last.end) return last;
  const bounds = computePeriod(now, period);
  lastBounds.set(period, bounds);
  return bounds;
}

const lastBounds = new WeakMap<CalendarPeriod, PeriodBounds>();

function computePeriod(now: number, period: CalendarPeriod): PeriodBounds {
  const { index, boundary } = sequence(period);
  let k = index(wallClock(now, period.timeZone));
  while (boundary(k) > now) k--;
  while (boundary(k + 1) <= now) k++;
  return { start: boundary(k), end: boundary(k + 1) };
}
