import { holdsSlots } from './concurrency';
import { algorithmFor } from './registry';
import type { LimitConfig, LimitState } from './types';

/** What a write reserves when the key's pace is not known yet (or is slow), if 1 % of the limit allows. */
export const RESERVE_BASE = 64;
/** The share of a limit one write may reserve ahead of the count. */
export const RESERVE_SHARE = 0.01;
/**
 * How much of a busy key's traffic one write reserves: this long of it, at the pace the previous reservation was spent.
 * Every write of a key's row holds every answer its object sends until storage confirms the write (the output gate),
 * so a busy key that writes once a second makes a few of its requests wait for storage each second: the slowest of its
 * requests. Ten seconds of traffic makes that one write in ten seconds; what a restart may refuse early stays within
 * {@link RESERVE_SHARE} of the limit.
 */
export const RESERVE_AHEAD_MS = 10_000;
/** A reservation grows at most this many times over the previous one, so a short burst cannot inflate it at once. */
export const RESERVE_GROWTH = 4;

/** The reservation written before, and how long the key took to spend it. */
export interface SpentReservation {
  readonly units: number;
  readonly lastedMs: number;
}

/**
 * How many units a write may reserve ahead of the count for this limit.
 * Never more than 1 % of the limit (so none below 100). Without a `previous`
 * reservation, {@link RESERVE_BASE}; after one, what the key spends in
 * {@link RESERVE_AHEAD_MS} at the pace it spent that one, at least
 * {@link RESERVE_BASE} and at most {@link RESERVE_GROWTH} times the previous.
 * This bounds what a restart of the key's object can cost a client: it
 * resumes from the reserved count, so it may refuse up to this many units
 * early in that window. It never admits more.
 *
 * @example
 * const config = { algorithm: 'fixed-window', limit: 1_000_000, windowMs: 60_000 } as const;
 * reserveUnits(config); // 64
 * reserveUnits(config, { units: 64, lastedMs: 50 }); // 256: 1,280 a second, but at most 4 × 64
 * reserveUnits(config, { units: 1024, lastedMs: 8000 }); // 1280: ten seconds at 128 a second
 */
export function reserveUnits(config: LimitConfig, previous?: SpentReservation): number {
  // Slots are taken one by one and given back: there is nothing to reserve ahead.
  if (holdsSlots(config)) return 0;
  const cap = Math.floor((config.burst ?? config.limit) * RESERVE_SHARE);
  if (!previous || previous.units <= 0) return Math.min(RESERVE_BASE, cap);
  const paced = Math.ceil((previous.units * RESERVE_AHEAD_MS) / Math.max(1, previous.lastedMs));
  return Math.min(cap, Math.max(RESERVE_BASE, Math.min(paced, previous.units * RESERVE_GROWTH)));
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
