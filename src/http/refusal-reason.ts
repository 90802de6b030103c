import { holdsSlots } from '../algorithms/concurrency';
import type { LimitResult, Verdict, VerdictKind } from '../engine/verdict';

/**
 * Why a request was refused, as the reason header says it (one token):
 *
 * - `rate`: a request-rate limit (window shorter than a day);
 * - `quota`: a limit whose window is a day or longer;
 * - `concurrency`: too many requests in flight at once;
 * - `ban`: the key is banned after repeated refusals;
 * - `block`: a block list refused the request;
 * - `capacity`: the service is shedding load (limits reduced while the origin is degraded, see `originHealth`);
 * - `unavailable`: the limiter itself failed and the policy fails closed.
 *
 * `concurrency` is a `limit` verdict whose deciding limit is a concurrency
 * limit; `capacity` is for a verdict kind of that name: a kind added to
 * {@link VerdictKind} must be given its reason in {@link REASON_OF_KIND}.
 */
export const REFUSAL_REASONS = ['rate', 'concurrency', 'quota', 'ban', 'block', 'capacity', 'unavailable'] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Limits with a window this long or longer are quotas rather than rates. */
export const QUOTA_WINDOW_MS = 86_400_000;

/**
 * The reason each verdict kind gives; `undefined` for an admitted request.
 * A `limit` verdict is `rate` or `quota` by the refusing limit's window (see {@link refusalReason}).
 */
export const REASON_OF_KIND: { readonly [K in VerdictKind]: RefusalReason | undefined } = {
  allow: undefined,
  limit: 'rate',
  capacity: 'capacity',
  block: 'block',
  ban: 'ban',
  unavailable: 'unavailable',
};

/** The limits that refused (never shadow ones), in the order asked. */
export function refusingResults(results: readonly LimitResult[]): LimitResult[] {
  return results.filter((r) => !r.shadow && !r.decision.allowed);
}

/**
 * Why a verdict refuses, or `undefined` when it admits. A refusal by limits
 * is a `concurrency` when the limit that decides the wait (the longest one)
 * counts requests in flight, a `quota` when it has a window of a day or
 * more, a `rate` otherwise.
 *
 * @example
 * refusalReason(verdict) // 'rate'
 */
export function refusalReason(verdict: Pick<Verdict, 'kind' | 'results'>): RefusalReason | undefined {
  const reason = REASON_OF_KIND[verdict.kind];
  if (verdict.kind !== 'limit') return reason;
  const refusing = refusingResults(verdict.results);
  if (refusing.length === 0) return reason;
  const deciding = refusing.reduce((a, b) => (b.decision.retryAfterMs > a.decision.retryAfterMs ? b : a));
  if (holdsSlots(deciding.limit.config)) return 'concurrency';
  return deciding.limit.config.windowMs >= QUOTA_WINDOW_MS ? 'quota' : 'rate';
}

/**
 * The policies a refusal names in problem details' `violated-policies`
 * (the names `RateLimit-Policy` uses, `<rule>/<limit>`): the limits that
 * refused and, for a ban or a fail-closed fault, the limits of the rule that
 * banned or whose object could not be asked.
 */
export function violatedPolicies(verdict: Pick<Verdict, 'kind' | 'results' | 'refusedBy'>): string[] {
  const names = refusingResults(verdict.results).map((r) => r.limit.id);
  if ((verdict.kind === 'ban' || verdict.kind === 'unavailable') && verdict.refusedBy) {
    for (const limit of verdict.refusedBy.limits) if (!names.includes(limit.id)) names.push(limit.id);
  }
  return names;
}
