import { algorithmFor } from './registry';
import type { LimitConfig, LimitState } from './types';

/** The most units one write may reserve ahead of the count. */
export const RESERVE_MAX = 64;
/** The share of a limit one write may reserve ahead of the count. */
export const RESERVE_SHARE = 0.01;

/**
 * How many units a write may reserve ahead of the count for this limit:
 * 1 % of the limit, at most {@link RESERVE_MAX}, and none below 100.
 * This bounds what a restart of the key's object can cost a client: it
 * resumes from the reserved count, so it may refuse up to this many units
 * early in that window. It never admits more.
 */
export function reserveUnits(config: LimitConfig): number {
  return Math.min(RESERVE_MAX, Math.floor((config.burst ?? config.limit) * RESERVE_SHARE));
}

/**
 * The state to store for `state`: `state` with up to `units` more counted,
 * as many as still fit at `now`. Storing it lets later requests be counted in
 * memory alone while the stored state still {@link Algorithm.covers} theirs.
 *
 * @example
 * const config = { algorithm: 'fixed-window', limit: 1000, windowMs: 60_000 } as const;
 * reserve({ windowStart: 0, current: 10, previous: 0, tat: 0 }, 5, config, 8).current; // 18
 * reserve({ windowStart: 0, current: 995, previous: 0, tat: 0 }, 5, config, 8).current; // 1000
 */
export function reserve(state: LimitState, now: number, config: LimitConfig, units: number): LimitState {
  const algorithm = algorithmFor(config.algorithm);
  const fit = Math.min(units, algorithm.peek(state, now, config).remaining);
  if (fit <= 0) return state;
  const step = algorithm.consume(state, now, config, fit, false);
  return step.decision.allowed ? step.state : state;
}
