import { windowStartOf } from './fixed-window';
import type { Algorithm, LimitConfig, LimitDecision, LimitState } from './types';
import { EMPTY_STATE } from './types';

/** Rolls the state forward so `windowStart` is the window containing `now`. */
function roll(state: LimitState | undefined, now: number, config: LimitConfig): LimitState {
  const start = windowStartOf(now, config.windowMs);
  if (!state) return { ...EMPTY_STATE, windowStart: start };
  if (start <= state.windowStart) return state;
  const previous = start - state.windowStart === config.windowMs ? state.current : 0;
  return { ...EMPTY_STATE, windowStart: start, previous };
}

/** The weighted count: the previous window's share still inside the sliding window plus the current count. */
export function estimate(state: LimitState, now: number, windowMs: number): number {
  const elapsed = Math.min(windowMs, Math.max(0, now - state.windowStart));
  return (state.previous * (windowMs - elapsed)) / windowMs + state.current;
}

/** Earliest time at or after `now` when `cost` more units fit, assuming no other arrivals. */
function nextAdmission(state: LimitState, now: number, config: LimitConfig, cost: number): number {
  const { limit, windowMs } = config;
  if (cost > limit) return state.windowStart + 2 * windowMs;
  const room = limit - cost - state.current;
  if (room >= 0 && state.previous > 0) {
    // previous * (W - e) / W <= room  =>  e >= W - room * W / previous
    const elapsed = Math.ceil(windowMs - (room * windowMs) / state.previous);
    return Math.max(now, state.windowStart + elapsed);
  }
  if (room >= 0) return now;
  // Not before the next window, where `current` becomes the weighted previous window.
  const nextStart = state.windowStart + windowMs;
  if (state.current <= 0) return nextStart;
  const elapsed = Math.max(0, Math.ceil(windowMs - ((limit - cost) * windowMs) / state.current));
  return Math.max(now, nextStart + elapsed);
}

function decision(state: LimitState, now: number, config: LimitConfig, allowed: boolean, cost: number): LimitDecision {
  const used = estimate(state, now, config.windowMs);
  const windowEnd = state.windowStart + config.windowMs;
  const retryAt = allowed ? now : nextAdmission(state, now, config, cost);
  return {
    allowed,
    limit: config.limit,
    used: Math.ceil(used),
    remaining: Math.max(0, Math.floor(config.limit - used)),
    resetAt: Math.max(windowEnd, retryAt),
    retryAfterMs: allowed ? 0 : Math.max(1, retryAt - now),
  };
}

/**
 * Sliding window, the two-window weighted approximation Cloudflare measured at
 * 0.003 % wrong decisions: `previous × (window − elapsed) / window + current`.
 *
 * @example
 * const config = { algorithm: 'sliding-window', limit: 10, windowMs: 60_000 } as const;
 * slidingWindow.consume(undefined, 0, config, 1, false).decision.remaining; // 9
 */
export const slidingWindow: Algorithm = {
  consume(state, now, config, cost, countRefused) {
    const s = roll(state, now, config);
    const allowed = estimate(s, now, config.windowMs) + cost <= config.limit;
    const next = allowed || countRefused ? { ...s, current: s.current + cost } : s;
    return { state: next, decision: decision(next, now, config, allowed, cost) };
  },
  peek(state, now, config) {
    const s = roll(state, now, config);
    const allowed = estimate(s, now, config.windowMs) + 1 <= config.limit;
    return decision(s, now, config, allowed, 1);
  },
  release(state, _now, config, cost, countedAt) {
    const countedWindow = windowStartOf(countedAt, config.windowMs);
    if (countedWindow === state.windowStart) return { ...state, current: Math.max(0, state.current - cost) };
    if (countedWindow === state.windowStart - config.windowMs) {
      return { ...state, previous: Math.max(0, state.previous - cost) };
    }
    return state;
  },
  expiresAt(state, config) {
    return state.windowStart + 2 * config.windowMs;
  },
  covers(stored, state) {
    return stored.windowStart === state.windowStart && stored.current >= state.current && stored.previous >= state.previous;
  },
};
