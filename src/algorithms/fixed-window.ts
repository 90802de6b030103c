import { periodAt } from './calendar-period';
import type { Algorithm, LimitConfig, LimitDecision, LimitState } from './types';
import { EMPTY_STATE } from './types';

/** Start of the window containing `now`; windows are aligned to the epoch so every key agrees on them. */
export function windowStartOf(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

/** Start of the window (or calendar period) containing `now`. */
function startOf(now: number, config: LimitConfig): number {
  return config.period ? periodAt(now, config.period).start : windowStartOf(now, config.windowMs);
}

/** End of the window (or calendar period) that starts at `windowStart`. */
function endOf(windowStart: number, config: LimitConfig): number {
  return config.period ? periodAt(windowStart, config.period).end : windowStart + config.windowMs;
}

/** Rolls the stored state into the window that contains `now` (never backwards if clocks disagree). */
function current(state: LimitState | undefined, now: number, config: LimitConfig): LimitState {
  const start = startOf(now, config);
  if (!state || start > state.windowStart) return { ...EMPTY_STATE, windowStart: start };
  return state;
}

function decision(state: LimitState, now: number, config: LimitConfig, allowed: boolean): LimitDecision {
  const resetAt = endOf(state.windowStart, config);
  return {
    allowed,
    limit: config.limit,
    used: state.current,
    remaining: Math.max(0, config.limit - state.current),
    resetAt,
    retryAfterMs: allowed ? 0 : Math.max(1, resetAt - now),
  };
}

/**
 * Fixed window: a counter per aligned window of `windowMs`, or per calendar
 * period when the config has a `period` (a month from the customer's billing
 * date, say). Exact within a window; a client may spend up to twice the limit
 * across a window boundary. A change of `limit` keeps what the window has
 * counted: a plan changed mid-period keeps the units already used.
 *
 * @example
 * const config = { algorithm: 'fixed-window', limit: 2, windowMs: 60_000 } as const;
 * const first = fixedWindow.consume(undefined, 0, config, 1, false);
 * first.decision; // { allowed: true, remaining: 1, resetAt: 60_000, … }
 * fixedWindow.consume(first.state, 10, config, 1, false).decision.remaining; // 0
 */
export const fixedWindow: Algorithm = {
  consume(state, now, config, cost, countRefused) {
    const s = current(state, now, config);
    const allowed = s.current + cost <= config.limit;
    const next = allowed || countRefused ? { ...s, current: s.current + cost } : s;
    return { state: next, decision: decision(next, now, config, allowed) };
  },
  peek(state, now, config) {
    const s = current(state, now, config);
    return decision(s, now, config, s.current < config.limit);
  },
  release(state, _now, _config, cost, countedAt) {
    if (state.windowStart > countedAt) return state;
    return { ...state, current: Math.max(0, state.current - cost) };
  },
  expiresAt(state, config) {
    return endOf(state.windowStart, config);
  },
  covers(stored, state) {
    return stored.windowStart === state.windowStart && stored.current >= state.current;
  },
};
