import type { Context, MiddlewareHandler } from 'hono';
import type { RateLimiter } from '../durable-object/rate-limiter';
import { CheckBatcher } from '../engine/check-batcher';
import { crossRequestWaitsWork } from '../engine/cross-request';
import { DenyCache } from '../engine/deny-cache';
import { LeaseCache } from '../engine/lease-cache';
import { after, isPending } from '../engine/maybe';
import { evaluate } from '../engine/evaluate';
import { ambiguousOverride } from '../engine/request-facts';
import { NOTHING_TO_SETTLE, type KeyLimiter, type LimiterDeps, type OverrideSource, type Verdict } from '../engine/verdict';
import { logEvent } from '../observability/log';
import { trafficRecorder } from '../traffic/recorder';
import { writeUsage } from '../observability/usage-point';
import { liveConfigFor, type LiveConfigOptions } from '../overrides/live-config';
import { quotaReport, SnapshotCache } from '../quota/quota';
import { normalizePath } from '../request/normalize-path';
import { hostAndPath } from '../request/url-parts';
import { listKey } from '../overrides/entries';
import { applyOverride, findOverride } from '../overrides/lookup';
import { Metrics, type AnalyticsSink } from '../observability/metrics';
import { RepeatFolder } from '../observability/repeat-folder';
import { compilePolicy, type CompiledPolicy } from '../policy/compile';
import { parsePolicy } from '../policy/parse';
import type { Policy, PolicyInput } from '../policy/schema';
import { mergeRateLimitHeaders, rateLimitHeaders } from './headers';
import { forwardingOf, type ClientAddressForwarding } from './origin-headers';
import { badRequestResponse, refusalResponse } from './refusal';

declare module 'hono' {
  interface ContextVariableMap {
    /** The limiter's verdict for this request, set before the next handler runs. */
    rateLimit: Verdict;
    /** Set by the origin forwarder when the origin failed, so outcome-counted reservations are released. */
    originFailed: boolean;
    /** How the origin forwarder tells the origin the client address: the policy's `forwardClientAddress`. */
    clientForwarding: ClientAddressForwarding;
  }
}

export interface RateLimitOptions {
  /** The policy: validated already, or raw input validated here (a bad policy throws now, not per request). */
  readonly policy: Policy | PolicyInput;
  /** Name of the Durable Object binding of {@link RateLimiter}. */
  readonly binding?: string;
  /** Name of the KV binding holding identity records and overrides (optional). */
  readonly kvBinding?: string;
  /** Name of an Analytics Engine dataset binding for decision counters (optional). */
  readonly analyticsBinding?: string;
  /** The clock, read once per request. */
  readonly now?: () => number;
  /**
   * Live overrides and allow/block list entries. By default they are read
   * from the `kvBinding` namespace when it is bound (see the README's KV
   * layout); `false` turns them off; a function supplies another source
   * (called once per set of bindings, and the source kept for their requests).
   */
  readonly overrides?: ((env: Record<string, unknown>) => OverrideSource | undefined) | false;
  /** How long live overrides and lists are cached in the isolate, and the longest a request waits to read them. */
  readonly live?: LiveConfigOptions;
  /** Counters shared with a dashboard; a fresh set by default. */
  readonly metrics?: Metrics;
  /** Refusals cached per isolate; on by default. */
  readonly denyCache?: DenyCache | false;
  /**
   * Let concurrent requests of an isolate share calls to one key's object
   * (exact mode's batches, one lease request at a time). Off by default:
   * under sustained load a shared call sometimes runs with another request's
   * I/O and fails (see SECURITY.md), and such requests fail open. It needs
   * the runtime to let a request wait for another's promise (the
   * `handle_cross_request_promise_resolution` compatibility flag).
   */
  readonly coalesce?: boolean;
  /**
   * Shapes the response to a refused request (add CORS headers, log, render
   * your own body): it gets the context, the verdict and the response the
   * policy's dialect built, and returns the response to send.
   */
  readonly onRefused?: (c: Context, verdict: Verdict, response: Response) => Response | Promise<Response>;
  /**
   * The host rules match (`match.hosts`, `exceptHosts`): the host the
   * request is forwarded to. By default the request's own, right where
   * requests go to the origin of the host they were sent to (`fetch(request)`
   * on a route). A worker that sends every request to one origin returns
   * that origin's host, so a client's `Host` cannot pick another host's limits.
   *
   * @example rateLimit({ policy, host: (c) => forwardedHost(c.env.ORIGIN_URL) })
   */
  readonly host?: (c: Context) => string | undefined;
}

/** Checks the options besides the policy (which `parsePolicy` checks), so a mistake throws when the middleware is built. */
function checkOptions(options: RateLimitOptions): void {
  const fail = (option: string, expected: string) => {
    throw new TypeError(`rateLimit: option "${option}" must be ${expected}`);
  };
  for (const name of ['binding', 'kvBinding', 'analyticsBinding'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value))) fail(name, 'a binding name such as "RATE_LIMITER"');
  }
  for (const name of ['now', 'onRefused', 'host'] as const) if (options[name] !== undefined && typeof options[name] !== 'function') fail(name, 'a function');
  if (options.overrides !== undefined && options.overrides !== false && typeof options.overrides !== 'function') fail('overrides', 'false or a function');
  if (options.coalesce !== undefined && typeof options.coalesce !== 'boolean') fail('coalesce', 'true or false');
  if (options.denyCache !== undefined && options.denyCache !== false && !(options.denyCache instanceof DenyCache)) fail('denyCache', 'false or a DenyCache');
  if (options.metrics !== undefined && !(options.metrics instanceof Metrics)) fail('metrics', 'a Metrics');
  // A cache time of 0 reads live configuration on every request.
  const ttl = options.live?.ttlMs;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0)) fail('live.ttlMs', 'a whole number of milliseconds, 0 or more');
  for (const name of ['timeoutMs', 'maxEntries'] as const) {
    const value = options.live?.[name];
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) fail(`live.${name}`, 'a positive whole number');
  }
}

/** Lets `work` finish after the response where the runtime allows it (`waitUntil`); otherwise waits for it. */
async function afterResponse(c: Context, work: Promise<void>): Promise<void> {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    await work;
  }
}

/** `waitUntil` of the request, or nothing where there is no execution context (a test's `app.request`). */
function keepAliveOf(c: Context): ((work: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}

/** What a built limiter exposes besides the handler, for admin and quota endpoints. */
export interface RateLimitHandle {
  readonly compiled: CompiledPolicy;
  readonly metrics: Metrics;
  readonly denyCache: DenyCache;
  /** The limiter's dependencies for a request's bindings; `keepAlive` lets background reads outlive it (`waitUntil`). */
  deps(env: Record<string, unknown>, keepAlive?: (work: Promise<unknown>) => void): LimiterDeps;
}

/**
 * Builds the rate-limit middleware. Options are validated once, here; the
 * returned handler decides each request with the policy, answers refusals
 * itself (the next handler never runs), and adds rate-limit headers to
 * admitted responses. The verdict is available as `c.get('rateLimit')`.
 *
 * @example
 * import { Hono } from 'hono';
 * import { rateLimit } from 'edge-ratelimit';
 *
 * const app = new Hono();
 * app.use('/api/*', rateLimit({
 *   policy: { name: 'api', rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 100, window: '1m' }] }] },
 * }));
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler & { readonly handle: RateLimitHandle } {
  checkOptions(options);
  const { binding = 'RATE_LIMITER', kvBinding = 'RATE_LIMIT_CONFIG', analyticsBinding = 'RATE_LIMIT_ANALYTICS', now = Date.now, onRefused, host: hostOf } = options;
  // A validated policy is valid input too: parsing again is cheap and happens once, here.
  const policy = parsePolicy(options.policy);
  const compiled = compilePolicy(policy);
  const metrics = options.metrics ?? new Metrics();
  const denyCache = options.denyCache === false ? new DenyCache(0) : (options.denyCache ?? new DenyCache());
  const coalesce = options.coalesce ?? false;
  if (coalesce && !crossRequestWaitsWork()) logEvent('coalesce_unsupported', { detail: 'coalesce is on, but handle_cross_request_promise_resolution is off: a request waiting for another\'s call may fail' });
  // Budgets leased by rules with `lease`; unused (and empty) when no rule opts in.
  const leases = new LeaseCache(10_000, 1_000, coalesce);
  const batcher = coalesce ? new CheckBatcher() : undefined;
  const repeats = new RepeatFolder();
  const forwarding = forwardingOf(policy);

  const live = liveConfigFor(kvBinding, options.live);
  /** Overrides and lists read from KV for one request; `keepAlive` lets a refresh it starts finish after the response. */
  const kvSources = (kv: KVNamespace, keepAlive?: (work: Promise<unknown>) => void): Pick<LimiterDeps, 'overrides' | 'lists'> => ({
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
  });

  /** What does not change between requests with the same bindings, worked out once for them. */
  const fixedDeps = new WeakMap<Record<string, unknown>, { readonly deps: LimiterDeps; readonly kv: KVNamespace | undefined }>();
  const fixedFor = (env: Record<string, unknown>) => {
    let fixed = typeof env === 'object' && env !== null ? fixedDeps.get(env) : undefined;
    if (!fixed) {
      const namespace = env?.[binding] as DurableObjectNamespace<RateLimiter> | undefined;
      if (!namespace) throw new Error(`rateLimit: no Durable Object binding "${binding}" in the environment`);
      const kv = env[kvBinding] as KVNamespace | undefined;
      const base: LimiterDeps = {
        compiled,
        limiterFor: (name) => namespace.getByName(name) as unknown as KeyLimiter,
        kv,
        secrets: env,
        denyCache,
        leases,
        batcher,
        metrics,
        repeats,
        analytics: env[analyticsBinding] as AnalyticsSink | undefined,
        ...(typeof options.overrides === 'function' ? { overrides: options.overrides(env) } : {}),
      };
      fixed = { deps: base, kv: options.overrides === undefined ? kv : undefined };
      fixedDeps.set(env, fixed);
    }
    return fixed;
  };
  const withLive = (fixed: ReturnType<typeof fixedFor>, keepAlive?: (work: Promise<unknown>) => void): LimiterDeps =>
    fixed.kv ? { ...fixed.deps, ...kvSources(fixed.kv, keepAlive) } : fixed.deps;
  const deps = (env: Record<string, unknown>, keepAlive?: (work: Promise<unknown>) => void): LimiterDeps => withLive(fixedFor(env), keepAlive);
  /** A request's dependencies; its `waitUntil` is looked up only where live configuration may need it. */
  const requestDeps = (c: Context): LimiterDeps => {
    const fixed = fixedFor(c.env as Record<string, unknown>);
    return withLive(fixed, fixed.kv ? keepAliveOf(c) : undefined);
  };

  const quotaPath = policy.quota ? normalizePath(policy.quota.path, policy.caseSensitivePaths) : undefined;
  // A caller polling its quota costs each of its keys' objects one read a second at most.
  const snapshots = new SnapshotCache();

  const refused = (c: Context, verdict: Verdict, at: number) => {
    const response = refusalResponse(verdict, policy.response, at);
    return onRefused ? onRefused(c, verdict, response) : response;
  };
  // The traffic record (policy `trafficRecord`): one line per decided request, written after the response.
  const recordTraffic = trafficRecorder(policy);
  const recordRefusal = async (c: Context, verdict: Verdict, at: number) => {
    const response = await refused(c, verdict, at);
    const writing = recordTraffic?.(verdict, response.status, at);
    if (writing) await afterResponse(c, writing);
    return response;
  };

  const handler = async function rateLimit(c: Context, next: () => Promise<void>) {
    const at = now();
    if (quotaPath !== undefined && (c.req.method === 'GET' || c.req.method === 'HEAD') && normalizePath(hostAndPath(c.req.url).pathname, policy.caseSensitivePaths) === quotaPath) {
      const answer = await quotaReport(c.req.raw, requestDeps(c), at, snapshots, hostOf?.(c));
      if ('refused' in answer) return refused(c, answer.refused, at);
      return c.json(answer.report, 200, { 'Cache-Control': 'no-store' });
    }
    const ambiguous = ambiguousOverride(c.req.raw, policy);
    if (ambiguous !== undefined) return badRequestResponse(ambiguous);
    const deciding = evaluate(c.req.raw, requestDeps(c), at, hostOf?.(c));
    const verdict = isPending(deciding) ? await deciding : deciding;
    c.set('rateLimit', verdict);
    // Usage per customer (subject, org) for the admin API's usage report.
    writeUsage(verdict, c.req.raw.headers, (c.env as Record<string, unknown> | undefined)?.[analyticsBinding] as AnalyticsSink | undefined);
    if (verdict.background) await afterResponse(c, verdict.background);
    if (verdict.kind !== 'allow') return recordTraffic ? recordRefusal(c, verdict, at) : refused(c, verdict, at);
    c.set('clientForwarding', forwarding);

    let failed = false;
    try {
      await next();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // Outcome-counted reservations are kept or given back once the status is known, after the response.
      if (verdict.settle !== NOTHING_TO_SETTLE) await afterResponse(c, verdict.settle(failed || c.get('originFailed') ? 'error' : c.res.status));
    }
    const writing = recordTraffic?.(verdict, c.res.status, at);
    if (writing) await afterResponse(c, writing);
    if (policy.response.headersOn === 'always') {
      const ours = rateLimitHeaders(verdict.results, policy.response, at, false);
      if (ours.length > 0) {
        try {
          mergeRateLimitHeaders(c.res.headers, ours);
        } catch {
          // Headers of a response straight from fetch() are immutable: copy it once to add ours.
          c.res = new Response(c.res.body, c.res);
          mergeRateLimitHeaders(c.res.headers, ours);
        }
      }
    }
  };
  return Object.assign(handler, { handle: { compiled, metrics, denyCache, deps } });
}
