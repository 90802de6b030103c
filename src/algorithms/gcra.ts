import type { Algorithm, LimitConfig, LimitDecision, LimitState } from './types';
import { EMPTY_STATE } from './types';

/** Milliseconds one unit of budget takes to replenish. */
function interval(config: LimitConfig): number {
  return config.windowMs / config.limit;
}

function capacity(config: LimitConfig): number {
  return config.burst ?? config.limit;
}

function decision(tat: number, now: number, config: LimitConfig, allowed: boolean, retryAt: number): LimitDecision {
  const t = interval(config);
  const burst = capacity(config);
  const debt = Math.max(0, tat - now);
  const used = Math.min(burst, Math.ceil(debt / t - 1e-9));
  const retryAfterMs = allowed ? 0 : Math.max(1, Math.ceil(retryAt - now));
  return {
    allowed,
    limit: burst,
    used,
    remaining: Math.max(0, Math.floor((burst * t - debt) / t + 1e-9)),
    resetAt: Math.max(now + retryAfterMs, tat),
    retryAfterMs,
  };
}

/**
 * GCRA (generic cell rate algorithm), a token bucket kept as one timestamp:
 * the theoretical arrival time `tat`. A request of cost `c` is admitted when
 * `max(tat, now) + c × interval − now <= burst × interval`; the exact
 * retry time follows from the same timestamp.
 *
 * @example
 * // 10 per second, at most 5 at once.
 * const config = { algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 5 } as const;
 * gcra.consume(undefined, 0, config, 1, false).decision.remaining; // 4
 */
export const gcra: Algorithm = {
  consume(state, now, config, cost, countRefused) {
    const t = interval(config);
    const burst = capacity(config);
    const tat = Math.max(state?.tat ?? 0, now);
    const newTat = tat + cost * t;
    const allowed = cost <= burst && newTat - now <= burst * t;
    const stored = allowed || countRefused ? newTat : tat;
    const retryAt = cost > burst ? Number.POSITIVE_INFINITY : newTat - burst * t;
    const next: LimitState = { ...EMPTY_STATE, tat: stored };
    return { state: next, decision: decision(stored, now, config, allowed, Number.isFinite(retryAt) ? retryAt : now + config.windowMs) };
  },
  peek(state, now, config) {
    const t = interval(config);
    const tat = Math.max(state?.tat ?? 0, now);
    const allowed = tat + t - now <= capacity(config) * t;
    return decision(tat, now, config, allowed, tat + t - capacity(config) * t);
  },
  release(state, now, config, cost) {
    return { ...state, tat: Math.max(now, state.tat - cost * interval(config)) };
  },
  expiresAt(state) {
    return state.tat;
  },
  covers(stored, state) {
    return stored.tat >= state.tat;
  },
};
