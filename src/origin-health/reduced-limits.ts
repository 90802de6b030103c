import type { LimitDecision } from '../algorithms/types';
import type { CompiledLimit } from '../policy/compile';

/** Reduced limits made lately, per limit: one factor at a time is in force, so each limit keeps the last. */
const reduced = new WeakMap<CompiledLimit, { readonly factor: number; readonly limit: CompiledLimit }>();

/**
 * A limit at `factor` of its size while the origin is degraded: `limit × factor`
 * rounded down, at least 1 (a limit of 0 stays 0), and a GCRA burst likewise.
 * It keeps its id and name (it counts on the same counter), and remembers
 * the full limit in `reducedFrom`. GCRA limits (an override may set one)
 * are kept whole: a GCRA refusal does not tell whether the full limit would
 * have admitted the request.
 *
 * @example
 * reducedLimit(perAddress60, 0.5).config.limit // 30
 */
export function reducedLimit(limit: CompiledLimit, factor: number): CompiledLimit {
  if (factor >= 1 || limit.config.algorithm === 'gcra' || limit.config.limit === 0) return limit;
  const known = reduced.get(limit);
  if (known && known.factor === factor) return known.limit;
  const scale = (n: number) => Math.max(1, Math.floor(n * factor + 1e-9));
  const { burst, ...config } = limit.config;
  const made: CompiledLimit = {
    ...limit,
    config: { ...config, limit: scale(config.limit), ...(burst !== undefined ? { burst: scale(burst) } : {}) },
    reducedFrom: limit,
  };
  reduced.set(limit, { factor, limit: made });
  return made;
}

/**
 * Whether a refusal by a reduced limit would have been an admission under
 * the full one: the units counted before the request, plus its cost, fit the
 * full limit. Exact for fixed and sliding windows, whose `used` is the count
 * before the request (or after it, when the refused request was counted).
 */
export function fitsFullLimit(limit: CompiledLimit, decision: LimitDecision, cost: number, counted: boolean): boolean {
  const full = limit.reducedFrom;
  if (!full || decision.allowed) return false;
  const before = counted ? decision.used - cost : decision.used;
  return before + cost <= full.config.limit;
}
