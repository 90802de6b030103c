import { Limiter } from '../limiter/limiter';
import { keyDigester } from '../observability/key-digest';
import type { AnalyticsSink, Metrics } from '../observability/metrics';
import type { CompiledPolicy, CompiledRule } from '../policy/compile';
import { parsePolicy } from '../policy/parse';
import type { Policy, PolicyInput } from '../policy/schema';
import type { KeyObjectNamespace } from '../protocol/key-limiter';
import type { LimitStatus } from './limit-status';
import type { Group, VerdictKind } from './verdict';

type RuleInput = PolicyInput['rules'][number];

/** A rule given straight to {@link checkLimit}: as in a policy, but `key` may be left out. */
export type CheckRuleInput = Omit<RuleInput, 'key'> & { readonly key?: RuleInput['key'] };

/** The key part of rules given to {@link checkLimit} without one. */
const DEFAULT_KEY_PART = { const: 'check-limit' } as const;

export interface CheckLimitOptions {
  /** The Durable Object binding of {@link RateLimiter}, e.g. `env.RATE_LIMITER`. */
  readonly namespace: KeyObjectNamespace;
  /** The policy whose rules decide (validated once per policy object). Give this or `rules`. */
  readonly policy?: Policy | PolicyInput;
  /** Rules to decide with instead of a policy (validated once per array). */
  readonly rules?: readonly CheckRuleInput[];
  /** Names of the policy's rules that apply; every rule by default. */
  readonly only?: readonly string[];
  /** The key's value: a tenant, a user, an address. Counted under `<rule key signature>=<key>`. */
  readonly key: string;
  /** Units this call spends; each rule's own cost (a header cost's `default`) when left out. */
  readonly cost?: number;
  /** The time of the decision, epoch milliseconds; `Date.now()` by default. */
  readonly now?: number;
  /** Counters to add this decision to; one set per policy object by default. */
  readonly metrics?: Metrics;
  /** An Analytics Engine dataset for decision counters. */
  readonly analytics?: AnalyticsSink;
  /**
   * The secret that keys the digests naming keys in refusal log lines and
   * points (`env.KEY_DIGEST_SECRET`, at least 32 bytes); without it they are
   * unkeyed SHA-256, logged once per isolate as `key_digest_unkeyed`.
   */
  readonly keyDigestSecret?: string;
}

/**
 * One limit's answer to a {@link checkLimit} call.
 *
 * @deprecated The same record as {@link LimitStatus}; use that name.
 */
export type CheckedLimit = LimitStatus;

/** The decision of a {@link checkLimit} call. */
export interface LimitCheck {
  /** Whether every enforced limit admitted the call; if so, all counted it. */
  readonly allowed: boolean;
  /** `allow`, `limit` (a limit refused), `ban` (the key is banned) or `unavailable` (a key's object failed and its rules fail closed). */
  readonly kind: Exclude<VerdictKind, 'block'>;
  /** Milliseconds to wait before the same call could be admitted; 0 when allowed. */
  readonly retryAfterMs: number;
  /** Set when a rule with `smooth` admitted the call after a wait: how long it was held (ms) before `checkLimit` resolved. */
  readonly delayMs?: number;
  /** The rule that refused, when refused. */
  readonly refusedBy?: string;
  /** Every limit asked, in policy order. A key whose object failed open has none here. */
  readonly limits: readonly LimitStatus[];
  /**
   * For limits with `countWhen`: keeps the reserved count when `outcome` (a
   * status code) matches, gives it back otherwise or on `'error'`. Without a
   * call, reservations stay counted. For rules with `responseCost`, pass
   * the response (or `{ headers }`) whose header reports what the call cost:
   * the difference from the cost counted is charged or given back. Does
   * nothing for refused calls.
   */
  settle(outcome: number | 'error', response?: { readonly headers: Headers }): Promise<void>;
  /**
   * For concurrency limits: gives back the slots this call took, at `at`
   * (epoch ms, `Date.now()` by default), once the work it admitted is done.
   * Without a call, a slot comes back when its `slotLease` ends. Does nothing
   * for refused calls (they hold no slot) or calls without concurrency limits;
   * only the first call counts.
   */
  release(at?: number): Promise<void>;
}

/** Limiters built once per policy (or rules array), by the object they were given as. */
const limiters = new WeakMap<object, Limiter>();

function limiterOf(options: CheckLimitOptions): Limiter {
  const source = options.policy ?? options.rules;
  if ((options.policy === undefined) === (options.rules === undefined))
    throw new TypeError('checkLimit: give exactly one of "policy" and "rules"');
  if (typeof source !== 'object' || source === null)
    throw new TypeError('checkLimit: "policy" must be a policy object and "rules" an array of rules');
  let limiter = limiters.get(source);
  if (!limiter) {
    const policy = options.rules
      ? parsePolicy(
          { name: 'check-limit', rules: options.rules.map((rule) => ({ ...rule, key: rule.key ?? DEFAULT_KEY_PART })) },
          'checkLimit rules',
        )
      : parsePolicy(options.policy, 'checkLimit policy');
    limiter = new Limiter({ policy, waitForLeases: true });
    limiters.set(source, limiter);
  }
  return limiter;
}

function selectRules(compiled: CompiledPolicy, only: readonly string[] | undefined): readonly CompiledRule[] {
  if (only === undefined) return compiled.rules;
  const known = new Set(compiled.rules.map((r) => r.name));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new TypeError(`checkLimit: no rule named ${unknown.map((n) => `"${n}"`).join(', ')} in policy "${compiled.policy.name}"`);
  return compiled.rules.filter((r) => only.includes(r.name));
}

function ruleCost(rule: CompiledRule): number {
  const cost = rule.rule.cost;
  return typeof cost === 'number' ? cost : cost.default;
}

/**
 * Decides one call without HTTP, for queue consumers, cron jobs and RPC:
 * every rule (or those named in `only`) counts `cost` under `key`, atomically
 * per key object, exactly as the middleware counts a request. A rule's
 * counters live in the object `<rule key signature>=<key>`, so a rule keyed
 * by `ip` shares its budget with requests from that address. Request
 * conditions (`match`, allow and block lists, identity) do not apply.
 *
 * Faults follow each rule's `onError`: fail open admits without that key's
 * limits, fail closed answers `unavailable`.
 *
 * @example
 * const sends = [{ name: 'sends', limits: [{ limit: 100, window: '1m' }] }];
 *
 * export default {
 *   async queue(batch, env) {
 *     for (const message of batch.messages) {
 *       const check = await checkLimit({ namespace: env.RATE_LIMITER, rules: sends, key: message.body.tenant });
 *       if (check.allowed) message.ack();
 *       else message.retry({ delaySeconds: Math.ceil(check.retryAfterMs / 1000) });
 *     }
 *   },
 * };
 */
export async function checkLimit(options: CheckLimitOptions): Promise<LimitCheck> {
  const limiter = limiterOf(options);
  const { compiled } = limiter;
  const { key, cost, now = Date.now() } = options;
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('checkLimit: "key" must be a non-empty string');
  if (cost !== undefined && !(Number.isInteger(cost) && cost >= 0))
    throw new TypeError(`checkLimit: "cost" must be a whole number of at least 0, not ${String(cost)}`);
  if (!Number.isFinite(now)) throw new TypeError(`checkLimit: "now" must be epoch milliseconds, not ${String(now)}`);
  const namespace = options.namespace;
  if (typeof namespace?.getByName !== 'function')
    throw new TypeError('checkLimit: "namespace" must be the Durable Object binding of RateLimiter');

  const groups = new Map<string, Group>();
  for (const rule of selectRules(compiled, options.only)) {
    const name = `${rule.keySignature}=${key}`;
    let group = groups.get(name);
    if (!group) groups.set(name, (group = { name, rules: [], limits: [] }));
    group.rules.push(rule);
    for (const limit of rule.limits) group.limits.push({ rule, limit, cost: cost ?? ruleCost(rule) });
  }

  const verdict = await limiter.decideGroups([...groups.values()], now, namespace, {
    metrics: options.metrics,
    analytics: options.analytics,
    digester: keyDigester(options.keyDigestSecret),
  });
  // Without a response to outlive, a lease top-up this decision started is waited for.
  if (verdict.background) await verdict.background;
  return {
    allowed: verdict.kind === 'allow',
    kind: verdict.kind,
    retryAfterMs: verdict.retryAfterMs,
    ...(verdict.delayMs ? { delayMs: verdict.delayMs } : {}),
    ...(verdict.refusedBy ? { refusedBy: verdict.refusedBy.name } : {}),
    limits: verdict.limits,
    settle: verdict.settle,
    release: async (at = Date.now()) => verdict.releaseSlots?.(at),
  };
}
