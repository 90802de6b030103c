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

export { type AdminOptions, adminApi } from './admin/app';
export { type CalendarPeriod, type PeriodBounds, type PeriodUnit, periodAt } from './algorithms/calendar-period';
export {
  type BanRequest,
  type BanState,
  decideKey,
  type KeyDecision,
  type KeyRequest,
  type KeyTransition,
  type LimitOutcome,
  type LimitRequest,
} from './algorithms/decide';
// The pure algorithms: `(state, now, limit, cost) → { state, decision }`.
export { fixedWindow } from './algorithms/fixed-window';
export { gcra } from './algorithms/gcra';
export { ALGORITHMS, algorithmFor } from './algorithms/registry';
export { slidingWindow } from './algorithms/sliding-window';
export {
  type Algorithm,
  type AlgorithmName,
  EMPTY_STATE,
  type LimitConfig,
  type LimitDecision,
  type LimitState,
  type Transition,
} from './algorithms/types';
export { type DashboardOptions, dashboardApp } from './dashboard/app';
// The key's Durable Object: re-export it from your worker's entry module.
export { RateLimiter } from './durable-object/rate-limiter';
export { type CheckedLimit, type CheckLimitOptions, type CheckRuleInput, checkLimit, type LimitCheck } from './engine/check-limit';
// Shared state a middleware may be given.
export { DenyCache } from './engine/deny-cache';
// Decisions without HTTP: queue consumers, cron jobs, RPC.
export type { LimitStatus } from './engine/limit-status';
export type { LimitOverride, LimitResult, ListSource, OverrideSource, Verdict, VerdictKind } from './engine/verdict';
export { type ForwardOptions, forwardedHost, forwardToOrigin, originHeaders } from './http/forward';
// HTTP: the middleware and what it exposes.
export { type RateLimitHandle, type RateLimitOptions, rateLimit } from './http/middleware';
export { REFUSAL_REASONS, type RefusalReason, refusalReason, violatedPolicies } from './http/refusal-reason';
export type { Identity } from './identity/resolve';
// The limiter's core below HTTP, for faces of your own.
export { Limiter, type LimiterOptions, type RequestScope } from './limiter/limiter';
// Near-limit notifications: the queue consumer to export as your worker's `queue` handler, and signatures for receivers.
export {
  type DeliveryEnv,
  type DeliveryFailure,
  type DeliveryOptions,
  deliverNotifications,
  retryDelaySeconds,
} from './notifications/deliver';
export type { ThresholdEvent } from './notifications/event';
export { SIGNATURE_HEADER, signBody, verifySignature } from './notifications/signature';
export { type AnalyticsSink, type MetricEvent, Metrics } from './observability/metrics';
// The admin API and the dashboard for a limiter (`adminApp` both, or each alone): mount them under a path of your choice.
export { type AdminAppOptions, adminApp } from './operator-app';
export { type CompiledLimit, type CompiledPolicy, type CompiledRule, compilePolicy } from './policy/compile';
export { definePolicy, PolicyError, parsePolicy } from './policy/parse';
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
  ResponseCost,
  ResponseSettings,
  Rule,
  Smooth,
} from './policy/schema';
// Policies: the schema (zod), validation with field-naming errors, and the compiled form.
export { policySchema } from './policy/schema';
// What crosses to the key's object: the calls it answers and the records they carry.
export type { Charge, KeyLimiter, KeyObjectNamespace, KeySnapshot, Release } from './protocol/key-limiter';
export { keyLimiterFrom, type StandInCalls } from './protocol/stand-in';
