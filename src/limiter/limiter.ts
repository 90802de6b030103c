import { CheckBatcher } from '../engine/check-batcher';
import { crossRequestWaitsWork } from '../engine/cross-request';
import { decideGroups, type KeyAccess } from '../engine/decide-groups';
import { DenyCache } from '../engine/deny-cache';
import { evaluate, type RequestPath } from '../engine/evaluate';
import { LeaseCache } from '../engine/lease-cache';
import { after, type MaybePromise } from '../engine/maybe';
import type { CapacitySource, Group, GroupsVerdict, ListSource, OverrideSource, Verdict } from '../engine/verdict';
import { WaitQueue } from '../engine/wait-queue';
import { IdentityRecords, resolveIdentity } from '../identity/resolve';
import { type KeyDigester, keyDigester, keyDigesterOf } from '../observability/key-digest';
import { logEvent } from '../observability/log';
import { type AnalyticsSink, Metrics } from '../observability/metrics';
import { RepeatFolder } from '../observability/repeat-folder';
import {
  capacityAt,
  HEALTHY,
  type HealthSettings,
  type HealthState,
  healthSettings,
  type OriginObservation,
  observeOrigin,
} from '../origin-health/health-state';
import { listKey } from '../overrides/entries';
import { LiveConfig, type LiveConfigOptions } from '../overrides/live-config';
import { applyOverride, findOverride } from '../overrides/lookup';
import { type CompiledPolicy, compilePolicy } from '../policy/compile';
import { parsePolicy } from '../policy/parse';
import type { Policy, PolicyInput } from '../policy/schema';
import type { KeyLimiter, KeyObjectNamespace, KeySnapshot } from '../protocol/key-limiter';
import { type QuotaReport, quotaReport, SnapshotCache } from '../quota/quota';

/** What a {@link Limiter} is built from; every field is checked once, when it is built. */
export interface LimiterOptions {
  /** The policy: validated already, or raw input validated here (a bad policy throws now, not per request). */
  readonly policy: Policy | PolicyInput;
  /** Name of the Durable Object binding of `RateLimiter`. */
  readonly binding?: string;
  /** Name of the KV binding holding identity records and overrides. */
  readonly kvBinding?: string;
  /** Name of an Analytics Engine dataset binding for decision counters. */
  readonly analyticsBinding?: string;
  /** Live overrides and lists: from `kvBinding` by default, `false` for none, or a source of your own per set of bindings. */
  readonly overrides?: ((env: Record<string, unknown>) => OverrideSource | undefined) | false;
  /** How long live overrides and lists are cached, and the longest a request waits to read them. */
  readonly live?: LiveConfigOptions;
  /** Counters shared with a dashboard; a fresh set by default. */
  readonly metrics?: Metrics;
  /** Refusals cached per isolate; on by default. */
  readonly denyCache?: DenyCache | false;
  /** Let concurrent requests of an isolate share calls to one key's object. */
  readonly coalesce?: boolean;
  /**
   * Let a call wait for a lease another call of the isolate is fetching,
   * instead of asking the object itself; as `coalesce` by default (`checkLimit`
   * turns it on: its callers are not requests whose I/O may not be shared).
   */
  readonly waitForLeases?: boolean;
}

/** Where a request is decided: its bindings, the host its rules match, and `waitUntil` for work that may outlive it. */
export interface RequestScope {
  readonly env: Record<string, unknown>;
  /** The host rules match (`match.hosts`); the request's own when left out. */
  readonly host?: string | undefined;
  /** Lets background work (a live configuration refresh) finish after the response. */
  readonly keepAlive?: ((work: Promise<unknown>) => void) | undefined;
}

/** What stays the same for every request with one set of bindings. */
interface Bound {
  readonly path: RequestPath;
  /** The KV namespace live configuration is read from, when the limiter reads it itself. */
  readonly liveKv: KVNamespace | undefined;
}

/**
 * The limiter's core, built once per policy and isolate, below HTTP: the
 * compiled policy, the binding names, the caches (refusals, leases, quota
 * snapshots, identity records), the requests smoothing rules hold per key,
 * the live configuration and its counters, and the origin's health as this
 * isolate sees it (`originHealth`). The middleware, the quota endpoint, `checkLimit` and the operator
 * operations are thin faces over it.
 *
 * @example
 * const limiter = new Limiter({ policy });
 * const verdict = await limiter.decide(request, Date.now(), { env });
 */
export class Limiter {
  readonly policy: Policy;
  readonly compiled: CompiledPolicy;
  readonly binding: string;
  readonly kvBinding: string;
  readonly analyticsBinding: string;
  readonly metrics: Metrics;
  readonly denyCache: DenyCache;
  readonly #overrides: LimiterOptions['overrides'];
  readonly #leases: LeaseCache;
  readonly #batcher: CheckBatcher | undefined;
  readonly #repeats = new RepeatFolder();
  // Requests held per key while they wait to be forwarded (rules with `smooth`).
  readonly #waiting = new WaitQueue();
  readonly #live: LiveConfig;
  readonly #identities = new IdentityRecords();
  // A caller polling its quota costs each of its keys' objects one read a second at most.
  readonly #snapshots = new SnapshotCache();
  readonly #bound = new WeakMap<object, Bound>();
  // The origin's health as this isolate's forwarded requests saw it; each isolate judges from its own sample (see docs/policies.md).
  readonly #health: HealthSettings | undefined;
  #healthState: HealthState = HEALTHY;
  readonly #capacity: CapacitySource | undefined;

  constructor(options: LimiterOptions) {
    const { binding = 'RATE_LIMITER', kvBinding = 'RATE_LIMIT_CONFIG', analyticsBinding = 'RATE_LIMIT_ANALYTICS' } = options;
    // A validated policy is valid input too: parsing again is cheap and happens once, here.
    this.policy = parsePolicy(options.policy);
    this.compiled = compilePolicy(this.policy);
    this.binding = binding;
    this.kvBinding = kvBinding;
    this.analyticsBinding = analyticsBinding;
    this.metrics = options.metrics ?? new Metrics();
    this.denyCache = options.denyCache === false ? new DenyCache(0) : (options.denyCache ?? new DenyCache());
    this.#overrides = options.overrides;
    const coalesce = options.coalesce ?? false;
    if (coalesce && !crossRequestWaitsWork())
      logEvent('coalesce_unsupported', {
        detail: "coalesce is on, but handle_cross_request_promise_resolution is off: a request waiting for another's call may fail",
      });
    // Budgets leased by rules with `lease`; unused (and empty) when no rule opts in.
    this.#leases = new LeaseCache(10_000, 1_000, options.waitForLeases ?? coalesce);
    this.#batcher = coalesce ? new CheckBatcher() : undefined;
    this.#live = new LiveConfig(options.live);
    if (this.policy.originHealth) {
      const health = healthSettings(this.policy.originHealth);
      const rules = this.compiled.healthRules ?? new Set();
      this.#health = health;
      this.#capacity = { factor: (now) => capacityAt(this.#healthState, now, health), reduces: (rule) => rules.has(rule) };
    }
  }

  /** Whether the policy's limits follow the origin's health, so the origin's answers are worth observing. */
  get followsOrigin(): boolean {
    return this.#health !== undefined;
  }

  /**
   * Counts one answer of the origin to a forwarded request; a degraded
   * window (or a 503 with `Retry-After`) cuts the capacity of the
   * `originHealth` rules (see `origin-health/health-state.ts`).
   */
  observeOrigin(observation: OriginObservation): void {
    const settings = this.#health;
    if (!settings) return;
    const step = observeOrigin(this.#healthState, observation, settings);
    this.#healthState = step.state;
    if (step.cut) logEvent('capacity_cut', { ...step.cut, rules: this.policy.originHealth!.rules });
  }

  /** The share of their limits the `originHealth` rules grant at `now`: 1 when the origin is healthy (or the policy does not follow it). */
  capacity(now: number): number {
    return this.#health ? capacityAt(this.#healthState, now, this.#health) : 1;
  }

  /** The decision for a request: lists, then every matching rule, each key's object asked once (see `engine/evaluate.ts`). */
  decide(request: Request, now: number, scope: RequestScope): Promise<Verdict> {
    return evaluate(request, this.#path(scope), now, scope.host);
  }

  /** What the caller of `request` may still spend, or the refusal to send instead (see `quota/quota.ts`). */
  quota(request: Request, now: number, scope: RequestScope): Promise<{ readonly report: QuotaReport } | { readonly refused: Verdict }> {
    return quotaReport(request, this.#path(scope), now, this.#snapshots, scope.host);
  }

  /**
   * Decides groups of limits without a request (`checkLimit`): each group's
   * object counts its limits; request conditions and lists do not apply.
   */
  decideGroups(
    groups: Group[],
    now: number,
    objects: KeyObjectNamespace,
    sinks: {
      readonly metrics?: Metrics | undefined;
      readonly analytics?: AnalyticsSink | undefined;
      readonly digester?: KeyDigester | undefined;
    } = {},
  ): MaybePromise<GroupsVerdict> {
    const keys: KeyAccess = {
      limiterFor: (name) => objects.getByName(name) as KeyLimiter,
      denyCache: this.denyCache,
      leases: this.#leases,
      batcher: this.#batcher,
      waiting: this.#waiting,
      metrics: sinks.metrics ?? this.metrics,
      analytics: sinks.analytics,
      digester: sinks.digester ?? keyDigester(undefined),
    };
    return decideGroups(groups, keys, now);
  }

  /** How keys are named in logs and points with the bindings `env`: keyed by its `KEY_DIGEST_SECRET`. */
  keyDigester(env: Record<string, unknown>): KeyDigester {
    return this.#bind(env).path.keys.digester;
  }

  /** The object of a key (`<key signature>=<value>`) in the bindings `env`. */
  keyObject(env: Record<string, unknown>, name: string): KeyLimiter {
    return this.#bind(env).path.keys.limiterFor(name);
  }

  /** A key's live counters and bans, without counting anything. */
  async inspect(env: Record<string, unknown>, name: string, now: number): Promise<KeySnapshot> {
    return this.keyObject(env, name).inspect(now);
  }

  /** Refusals this isolate remembers no longer answer: after a key was reset or a ban lifted. */
  keysChanged(): void {
    this.denyCache.clear();
  }

  /** Live configuration is read again on the next request: after the operator wrote to it. */
  liveChanged(): void {
    this.#live.invalidate();
  }

  /** A cached identity record is read again: after the operator changed it. */
  identityChanged(credentialHash: string): void {
    this.#identities.forget(credentialHash);
  }

  /** What deciding one request takes: the parts bound once, with live sources that may outlive it through `keepAlive`. */
  #path(scope: RequestScope): RequestPath {
    const bound = this.#bind(scope.env);
    if (!bound.liveKv) return bound.path;
    const { overrides, lists } = this.#liveSources(bound.liveKv, scope.keepAlive);
    return { ...bound.path, overrides, lists: { ...bound.path.lists, live: lists } };
  }

  /** What does not change between requests with the same bindings, worked out once for them. */
  #bind(env: Record<string, unknown>): Bound {
    let bound = typeof env === 'object' && env !== null ? this.#bound.get(env) : undefined;
    if (!bound) {
      const namespace = env?.[this.binding] as KeyObjectNamespace | undefined;
      if (!namespace) throw new Error(`rateLimit: no Durable Object binding "${this.binding}" in the environment`);
      const kv = env[this.kvBinding] as KVNamespace | undefined;
      const { compiled } = this;
      const identity = compiled.identity;
      const source = { kv, secrets: env, records: this.#identities };
      const overrides = typeof this.#overrides === 'function' ? this.#overrides(env) : undefined;
      const path: RequestPath = {
        compiled,
        identify: identity && ((headers, now) => resolveIdentity(headers, identity, source, now)),
        lists: { allow: compiled.allow, block: compiled.block },
        overrides,
        capacity: this.#capacity,
        keys: {
          limiterFor: (name) => namespace.getByName(name) as KeyLimiter,
          denyCache: this.denyCache,
          leases: this.#leases,
          batcher: this.#batcher,
          waiting: this.#waiting,
          metrics: this.metrics,
          repeats: this.#repeats,
          analytics: env[this.analyticsBinding] as AnalyticsSink | undefined,
          digester: keyDigesterOf(env),
        },
      };
      bound = { path, liveKv: this.#overrides === undefined ? kv : undefined };
      this.#bound.set(env, bound);
    }
    return bound;
  }

  /** Overrides and lists read from KV for one request; `keepAlive` lets a refresh it starts finish after the response. */
  #liveSources(kv: KVNamespace, keepAlive: RequestScope['keepAlive']): { overrides: OverrideSource; lists: ListSource } {
    const live = this.#live;
    return {
      overrides: {
        lookup: (rule, keyValue, identity, now) =>
          after(live.current(kv, now, keepAlive), (snapshot) => {
            const entry = snapshot && findOverride(snapshot, rule.name, keyValue, identity, now);
            return entry ? applyOverride(rule, entry) : undefined;
          }),
      },
      lists: {
        current: (now) => live.current(kv, now, keepAlive),
        async blockAddress(address, until, reason, now) {
          const target = { list: 'block', kind: 'ip', value: address } as const;
          const value = { expires: new Date(until).toISOString(), reason };
          // KV drops the entry itself once the ban is over (it needs an expiry at least 60 s ahead).
          await kv.put(listKey(target), JSON.stringify(value), { expiration: Math.ceil(Math.max(until, now + 61_000) / 1000) });
          live.remember({ ...target, key: listKey(target), value_: value }, now);
        },
      },
    };
  }
}
