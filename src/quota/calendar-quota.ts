import { periodAt } from '../algorithms/calendar-period';
import type { LimitConfig } from '../algorithms/types';
import type { QuotaLimit } from './quota';

/**
 * A calendar-period limit as the quota endpoint reports it: the limit of the
 * customer's plan now in force (the key's object may have last counted under
 * an earlier one), what is left of it after the units already used this
 * period, and the period's real bounds, reported even before anything is
 * counted. Limits without a period are returned as they are.
 *
 * @example
 * inCalendarPeriod(reported, { algorithm: 'fixed-window', limit: 100_000, windowMs, period: { unit: 'month', anchor: '2026-03-17' } }, now)
 * // { …, limit: 100000, remaining: 99958, resetAt: '2026-04-17T00:00:00.000Z', period: { unit: 'month', start: '2026-03-17T00:00:00.000Z', end: '2026-04-17T00:00:00.000Z' } }
 */
export function inCalendarPeriod(reported: QuotaLimit, config: LimitConfig, now: number): QuotaLimit {
  const period = config.period;
  if (!period) return reported;
  const { start, end } = periodAt(now, period);
  const limit = config.limit;
  return {
    ...reported,
    limit,
    remaining: Math.max(0, limit - reported.used),
    resetAt: new Date(end).toISOString(),
    period: {
      unit: period.unit,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      ...(period.timeZone ? { timeZone: period.timeZone } : {}),
    },
  };
}
