/**
 * The origin's health as one isolate sees it, and the capacity factor that
 * follows from it: a pure state machine of `(state, now, observation)`.
 *
 * Answers are counted in a sliding window of ten buckets. When the window
 * holds at least `minRequests` answers and its 5xx share or its latency
 * quantile crosses the policy's threshold, or when the origin answers 503
 * with `Retry-After`, the factor is multiplied by `cut` (never below
 * `floor`), the window starts afresh, and answers to requests sent before
 * the cut no longer count (they tell of the load before it). From the cut
 * (or the end of the origin's `Retry-After`, whichever is later) the factor
 * grows by `recoverBy` every `everyMs` until it is 1 again: additive
 * increase, multiplicative decrease.
 */

import type { OriginHealthSettings } from '../policy/schema';

/** The policy's `originHealth` (see {@link healthSettings}), in milliseconds. */
export interface HealthSettings {
  readonly windowMs: number;
  readonly minRequests: number;
  /** Cut when at least this share of the window's answers are 5xx. */
  readonly errorRate?: number | undefined;
  /** Cut when more than `1 − p` of the window's answers took longer than `aboveMs`. */
  readonly latency?: { readonly p: number; readonly aboveMs: number } | undefined;
  /** Cut on a 503 with `Retry-After`, and recover only once it has passed. */
  readonly retryAfter: boolean;
  readonly maxHoldMs: number;
  readonly cut: number;
  readonly recoverBy: number;
  readonly everyMs: number;
  readonly floor: number;
}

/** What the origin's answers in one tenth of the window came to. */
export interface HealthBucket {
  /** Start of the bucket: a multiple of the bucket length. */
  readonly start: number;
  readonly requests: number;
  /** Answers with a 5xx status. */
  readonly errors: number;
  /** Answers that took longer than `latency.aboveMs`. */
  readonly slow: number;
}

export interface HealthState {
  /** The factor as the last cut left it (recovery is worked out from the time, see {@link capacityAt}). */
  readonly factor: number;
  /** When the last cut happened; 0 before any. Answers to requests sent before it are not counted. */
  readonly cutAt: number;
  /** No recovery before this: the end of the origin's `Retry-After`. */
  readonly holdUntil: number;
  /** The window, oldest bucket first; buckets that have left it are dropped on the next answer. */
  readonly buckets: readonly HealthBucket[];
}

/** One answer of the origin to a request the limiter forwarded. */
export interface OriginObservation {
  /** When the request was sent to the origin (epoch ms). */
  readonly sentAt: number;
  /** When the answer arrived (epoch ms). */
  readonly at: number;
  /** The status (the forwarder's 502 or 504 when the origin failed). */
  readonly status: number;
  /** The origin's `Retry-After`, in milliseconds from `at`, when it sent one. */
  readonly retryAfterMs?: number | undefined;
}

/** Why the factor was cut. */
export type CutTrigger = 'errors' | 'latency' | 'retry-after';

export interface HealthStep {
  readonly state: HealthState;
  /** Set when this answer cut the factor: why, and the window it was judged on. */
  readonly cut?: {
    readonly trigger: CutTrigger;
    readonly factor: number;
    readonly requests: number;
    readonly errors: number;
    readonly slow: number;
  };
}

/** A healthy origin: full capacity, nothing observed. */
export const HEALTHY: HealthState = Object.freeze({ factor: 1, cutAt: 0, holdUntil: 0, buckets: Object.freeze([]) });

const BUCKETS = 10;

/** Factors are kept to nine decimals, so steps of 0.1 add up to 1 exactly. */
function tidy(factor: number): number {
  return Math.round(factor * 1e9) / 1e9;
}

/**
 * The capacity factor at `now`: the factor the last cut left, raised by
 * `recoverBy` for each whole `everyMs` since the cut or the end of its hold,
 * at most 1.
 *
 * @example
 * capacityAt({ ...HEALTHY, factor: 0.5, cutAt: 0 }, 10_000, settings) // 0.7 with recoverBy 0.1 every 5 s
 */
export function capacityAt(state: HealthState, now: number, settings: HealthSettings): number {
  if (state.factor >= 1) return 1;
  const from = Math.max(state.cutAt, state.holdUntil);
  if (now < from) return state.factor;
  const steps = Math.floor((now - from) / settings.everyMs);
  return steps === 0 ? state.factor : Math.min(1, tidy(state.factor + steps * settings.recoverBy));
}

/** The state after a cut at `at`: the factor multiplied down, the window empty. */
function cutState(state: HealthState, at: number, settings: HealthSettings, holdUntil: number): HealthState {
  const factor = Math.max(settings.floor, tidy(capacityAt(state, at, settings) * settings.cut));
  return { factor, cutAt: at, holdUntil, buckets: [] };
}

/**
 * Counts one answer of the origin and cuts the factor when the window (or
 * the answer itself, a 503 with `Retry-After`) says the origin is degraded.
 * Pure: the same state and answer give the same step.
 *
 * @example
 * const { state, cut } = observeOrigin(HEALTHY, { sentAt: 0, at: 40, status: 503, retryAfterMs: 5000 }, settings);
 * cut?.trigger // 'retry-after'; capacityAt(state, 40, settings) === 0.5
 */
export function observeOrigin(state: HealthState, observation: OriginObservation, settings: HealthSettings): HealthStep {
  const { at, sentAt, status } = observation;
  // An answer to a request sent before the last cut tells of the load before it.
  if (sentAt < state.cutAt) return { state };

  if (settings.retryAfter && status === 503 && observation.retryAfterMs !== undefined && observation.retryAfterMs > 0) {
    const holdUntil = Math.max(state.holdUntil, at + Math.min(observation.retryAfterMs, settings.maxHoldMs));
    const next = cutState(state, at, settings, holdUntil);
    return { state: next, cut: { trigger: 'retry-after', factor: next.factor, requests: 0, errors: 0, slow: 0 } };
  }

  const bucketMs = settings.windowMs / BUCKETS;
  const start = Math.floor(at / bucketMs) * bucketMs;
  const error = status >= 500 && status <= 599 ? 1 : 0;
  const slow = settings.latency && at - sentAt > settings.latency.aboveMs ? 1 : 0;
  // Buckets that started a whole window or more before this one have left the window.
  const buckets = state.buckets.filter((b) => b.start > start - settings.windowMs);
  const last = buckets[buckets.length - 1];
  if (last && last.start === start) {
    buckets[buckets.length - 1] = { start, requests: last.requests + 1, errors: last.errors + error, slow: last.slow + slow };
  } else if (!last || last.start < start) {
    buckets.push({ start, requests: 1, errors: error, slow });
  } else {
    // An answer stamped earlier than the newest bucket (clocks advance per request, not globally) joins its own bucket.
    const i = buckets.findIndex((b) => b.start >= start);
    const b = buckets[i]!;
    if (b.start === start) buckets[i] = { start, requests: b.requests + 1, errors: b.errors + error, slow: b.slow + slow };
    else buckets.splice(i, 0, { start, requests: 1, errors: error, slow });
  }

  let requests = 0;
  let errors = 0;
  let slowOnes = 0;
  for (const b of buckets) {
    requests += b.requests;
    errors += b.errors;
    slowOnes += b.slow;
  }
  const next: HealthState = { ...state, buckets };
  if (requests < settings.minRequests) return { state: next };
  // The p quantile (nearest rank) is above the threshold exactly when more than (1 − p) of the answers are.
  // Shares are compared with a tolerance, so 1 − 0.9 of 10 answers is 1 answer, not 0.9999999999999998.
  const trigger: CutTrigger | undefined =
    settings.errorRate !== undefined && errors >= settings.errorRate * requests - 1e-9
      ? 'errors'
      : settings.latency && slowOnes > (1 - settings.latency.p) * requests + 1e-9
        ? 'latency'
        : undefined;
  if (!trigger) return { state: next };
  const after = cutState(state, at, settings, state.holdUntil);
  return { state: after, cut: { trigger, factor: after.factor, requests, errors, slow: slowOnes } };
}

/** The settings of a validated policy's `originHealth`, its durations named in milliseconds. */
export function healthSettings(h: OriginHealthSettings): HealthSettings {
  return {
    windowMs: h.window,
    minRequests: h.minRequests,
    errorRate: h.errorRate,
    latency: h.latency ? { p: h.latency.p, aboveMs: h.latency.above } : undefined,
    retryAfter: h.retryAfter,
    maxHoldMs: h.maxHold,
    cut: h.cut,
    recoverBy: h.recoverBy,
    everyMs: h.every,
    floor: h.floor,
  };
}
