/**
 * edge-ratelimit as a library: the Hono middleware, the key's Durable Object
 * to re-export from your worker, decisions without HTTP, the policy schema
 * and its helpers, and the pure algorithms.
 *
 * @example
 * import { Hono } from 'hono';
 * import { definePolicy, rateLimit } from 'edge-ratelimit';
 *
 * export { RateLimiter } from 'edge-ratelimit';
 *
 * const app = new Hono();
 * app.use('/api/*', rateLimit({ policy: definePolicy({ name: 'api', rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 100, window: '1m' }] }] }) }));
 * export default app;
 */

// HTTP: the middleware and what it exposes.
export { rateLimit, type RateLimitHandle, type RateLimitOptions } from './http/middleware';
export { forwardedHost, forwardToOrigin, originHeaders, type ForwardOptions } from './http/forward';
export { REFUSAL_REASONS, refusalReason, violatedPolicies, type RefusalReason } from './http/refusal-reason';
// The admin API and the dashboard for a limiter (`adminApp` both, or each alone): mount them under a path of your choice.
export { adminApp, type AdminAppOptions } from './operator-app';
export { adminApi, type AdminOptions } from './admin/app';
export { dashboardApp, type DashboardOptions } from './dashboard/app';
// The limiter's core below HTTP, for faces of your own.
export { Limiter, type LimiterOptions, type RequestScope } from './limiter/limiter';
export type { LimitOverride, LimitResult, LimiterDeps, ListSource, OverrideSource, Verdict, VerdictKind } from './engine/verdict';

// Decisions without HTTP: queue consumers, cron jobs, RPC.
export type { LimitStatus } from './engine/limit-status';
export { checkLimit, type CheckedLimit, type CheckLimitOptions, type CheckRuleInput, type LimitCheck } from './engine/check-limit';

// The key's Durable Object: re-export it from your worker's entry module.
export { RateLimiter } from './durable-object/rate-limiter';
// What crosses to the key's object: the calls it answers and the records they carry.
export type { Charge, KeyLimiter, KeyObjectNamespace, KeySnapshot, Release } from './protocol/key-limiter';
export { keyLimiterFrom, type StandInCalls } from './protocol/stand-in';

// Near-limit notifications: the queue consumer to export as your worker's `queue` handler, and signatures for receivers.
export {
  deliverNotifications,
  retryDelaySeconds,
  type DeliveryEnv,
  type DeliveryFailure,
  type DeliveryOptions,
} from './notifications/deliver';
export { signBody, verifySignature, SIGNATURE_HEADER } from './notifications/signature';
export type { ThresholdEvent } from './notifications/event';

// Policies: the schema (zod), validation with field-naming errors, and the compiled form.
export { policySchema } from './policy/schema';
export type {
  Ban,
  CountWhen,
  IdentitySettings,
  KeyPart,
  Limit,
  ListSettings,
  OnError,
  Policy,
  PolicyInput,
  ResponseSettings,
  Rule,
} from './policy/schema';
export { definePolicy, parsePolicy, PolicyError } from './policy/parse';
export { compilePolicy, type CompiledLimit, type CompiledPolicy, type CompiledRule } from './policy/compile';
export type { Identity } from './identity/resolve';

// Shared state a middleware may be given.
export { DenyCache } from './engine/deny-cache';
export { Metrics, type AnalyticsSink, type MetricEvent } from './observability/metrics';

// The pure algorithms: `(state, now, limit, cost) → { state, decision }`.
export { fixedWindow } from './algorithms/fixed-window';
export { periodAt, type CalendarPeriod, type PeriodBounds, type PeriodUnit } from './algorithms/calendar-period';
export { slidingWindow } from './algorithms/sliding-window';
export { gcra } from './algorithms/gcra';
export { ALGORITHMS, algorithmFor } from './algorithms/registry';
export {
  EMPTY_STATE,
  type Algorithm,
  type AlgorithmName,
  type LimitConfig,
  type LimitDecision,
  type LimitState,
  type Transition,
} from './algorithms/types';
export {
  decideKey,
  type BanRequest,
  type BanState,
  type KeyDecision,
  type KeyRequest,
  type KeyTransition,
  type LimitOutcome,
  type LimitRequest,
} from './algorithms/decide';
