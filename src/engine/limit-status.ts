import type { LimitResult } from './verdict';

/**
 * One limit as every caller sees it: the verdict of a request
 * (`verdict.limits`), `checkLimit`'s answer and, for the fields that apply
 * without counting, the quota report. Times are epoch milliseconds, amounts
 * are units of the limit.
 *
 * @example
 * const { limits } = await checkLimit({ namespace: env.RATE_LIMITER, rules, key: tenant });
 * for (const l of limits) console.log(`${l.policy}: ${l.remaining}/${l.limit}, whole again at ${new Date(l.resetAt).toISOString()}`);
 */
export interface LimitStatus {
  /** The rule the limit belongs to. */
  readonly rule: string;
  /** The limit's name within its rule (`1m`, `backoff-2`). */
  readonly name: string;
  /** The limit as rate-limit headers name it: `<rule>/<name>`. */
  readonly policy: string;
  /** Whether this limit admitted the call (a shadow limit may say no without refusing). */
  readonly allowed: boolean;
  /** Whether the call was counted against this limit. */
  readonly counted: boolean;
  /** A shadow limit is measured, never enforced. */
  readonly shadow: boolean;
  /** Units the window allows (the burst, for GCRA). */
  readonly limit: number;
  /** Units still available right after this decision. */
  readonly remaining: number;
  /** Units counted in the current window. */
  readonly used: number;
  /** When the current window ends, or when a refused call could next be admitted, if later (epoch ms). */
  readonly resetAt: number;
  /** Milliseconds until a call of the same cost could be admitted; 0 when allowed. */
  readonly retryAfterMs: number;
}

/** A limit's answer as a {@link LimitStatus}. */
export function limitStatus({ rule, limit, decision, shadow, counted }: LimitResult): LimitStatus {
  return {
    rule: rule.name,
    name: limit.name,
    policy: limit.id,
    allowed: decision.allowed,
    counted,
    shadow,
    limit: decision.limit,
    remaining: decision.remaining,
    used: decision.used,
    resetAt: decision.resetAt,
    retryAfterMs: decision.retryAfterMs,
  };
}
