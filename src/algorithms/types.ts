/**
 * The shared vocabulary of the rate-limit algorithms.
 *
 * Every algorithm is a pure state transition: it takes the stored state of one
 * limit (or `undefined` for a key never seen), the current time, the limit's
 * configuration and the request's cost, and returns the next state together
 * with a decision. Times are epoch milliseconds throughout.
 */

import type { CalendarPeriod } from './calendar-period';

/** Names of the algorithms a limit may use. */
export type AlgorithmName = 'fixed-window' | 'sliding-window' | 'gcra' | 'concurrency';

/** The configuration one algorithm needs for one limit. */
export interface LimitConfig {
  readonly algorithm: AlgorithmName;
  /** Requests (or cost units) admitted per window. */
  readonly limit: number;
  /**
   * Window length in milliseconds. For GCRA, the period over which `limit` is
   * spent. For a concurrency limit, the slot lease: the longest a slot is
   * held before it is given back without a release.
   */
  readonly windowMs: number;
  /** GCRA only: how many units may arrive at once. Defaults to `limit`. */
  readonly burst?: number;
  /**
   * Fixed window only: count per calendar period (a billing month, say)
   * instead of per aligned `windowMs`; `windowMs` is then the unit's
   * nominal length (`NOMINAL_PERIOD_MS`), shown in headers.
   */
  readonly period?: CalendarPeriod;
  /** Fixed window only: percentages of `limit` whose first reaching in a window the key's object announces. */
  readonly notify?: readonly number[];
}

/**
 * Stored state of one limit. A plain serialisable record: the Durable Object
 * persists it as is.
 */
export interface LimitState {
  /** Start of the current window (fixed and sliding windows). */
  readonly windowStart: number;
  /** Units counted in the current window; for GCRA unused (0). */
  readonly current: number;
  /** Units counted in the previous window (sliding window only). */
  readonly previous: number;
  /** GCRA theoretical arrival time; for windows unused (0). */
  readonly tat: number;
  /** Concurrency only: when each held slot's lease ends (epoch ms), ascending. */
  readonly slots?: readonly number[];
  /** Concurrency only: the running average of how long slots were held (ms), once one was given back. */
  readonly heldMs?: number;
}

/** The outcome of asking one limit about one request. */
export interface LimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Units still available right after this decision; never negative. */
  readonly remaining: number;
  /** Units counted in the current window after this decision. */
  readonly used: number;
  /** When the current window ends (epoch ms); when a refused request could next be admitted, if later. */
  readonly resetAt: number;
  /** Milliseconds until a request of the same cost could be admitted; 0 when allowed. */
  readonly retryAfterMs: number;
}

/** A state transition: the next state and the decision that produced it. */
export interface Transition {
  readonly state: LimitState;
  readonly decision: LimitDecision;
}

/** The interface every algorithm implements. */
export interface Algorithm {
  /** Decide one request, counting it when `count` says so (admitted requests always count). */
  consume(state: LimitState | undefined, now: number, config: LimitConfig, cost: number, countRefused: boolean): Transition;
  /** Look at the state without counting anything. */
  peek(state: LimitState | undefined, now: number, config: LimitConfig): LimitDecision;
  /** Give back `cost` units counted at `countedAt` (a reservation that did not commit). */
  release(state: LimitState, now: number, config: LimitConfig, cost: number, countedAt: number): LimitState;
  /** When this state no longer affects any decision and may be deleted. */
  expiresAt(state: LimitState, config: LimitConfig): number;
  /**
   * Whether `stored` refuses at least everything `state` refuses, now and
   * later: restarting from `stored` instead of `state` can only admit less.
   */
  covers(stored: LimitState, state: LimitState): boolean;
}

export const EMPTY_STATE: LimitState = Object.freeze({ windowStart: 0, current: 0, previous: 0, tat: 0 });
