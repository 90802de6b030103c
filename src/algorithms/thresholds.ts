import type { LimitState } from './types';

/** Which thresholds of one limit have been announced, in which window (or calendar period). */
export interface NoticeState {
  readonly windowStart: number;
  /** Percentages already announced in that window. */
  readonly sent: readonly number[];
}

/**
 * The thresholds (percentages of `limit`) a fixed-window count has reached
 * and that were not yet announced in its window, and the bookkeeping to
 * store. A new window starts with nothing announced. A threshold is
 * announced once per window, whatever the count does afterwards: a plan
 * changed mid-period announces what the new limit puts behind the count at
 * the next request, and never announces one twice. The returned state is
 * `stored` itself unless something was reached, so it needs writing only then.
 *
 * @example
 * thresholdsReached(undefined, { windowStart: 0, current: 80, previous: 0, tat: 0 }, 100, [80, 100]);
 * // { reached: [80], state: { windowStart: 0, sent: [80] } }
 */
export function thresholdsReached(
  stored: NoticeState | undefined,
  state: LimitState,
  limit: number,
  thresholds: readonly number[],
): { reached: number[]; state: NoticeState | undefined } {
  const sent = stored && stored.windowStart === state.windowStart ? stored.sent : [];
  const reached = limit > 0 ? thresholds.filter((t) => !sent.includes(t) && state.current * 100 >= t * limit) : [];
  // Nothing new: the stored bookkeeping stands (a row of an earlier window is as good as none).
  if (reached.length === 0) return { reached, state: stored };
  return { reached, state: { windowStart: state.windowStart, sent: [...sent, ...reached] } };
}
