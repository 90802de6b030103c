import type { Context, MiddlewareHandler } from 'hono';
import type { RateLimiter } from '../durable-object/rate-limiter';
import { DenyCache } from '../engine/deny-cache';
import { ambiguousOverride } from '../engine/request-facts';
import { resultsAfterResponse } from '../engine/response-cost';
import { NOTHING_TO_SETTLE, type OverrideSource, type Verdict } from '../engine/verdict';
import { Limiter, type RequestScope } from '../limiter/limiter';
import type { AnalyticsSink } from '../observability/metrics';
import { Metrics } from '../observability/metrics';
import { writeUsage } from '../observability/usage-point';
import type { LiveConfigOptions } from '../overrides/live-config';
import type { CompiledPolicy } from '../policy/compile';
import type { Policy, PolicyInput } from '../policy/schema';
import { normalizePath } from '../request/normalize-path';
import { hostAndPath } from '../request/url-parts';
import { trafficRecorder } from '../traffic/recorder';
import { mergeRateLimitHeaders, rateLimitHeaders } from './headers';
import { type ClientAddressForwarding, forwardingOf } from './origin-headers';
import { badRequestResponse, refusalResponse } from './refusal';
import { retryAfterMs } from './retry-after';
import { bodyThatEnds } from './slot-body';

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
    if (value !== undefined && (typeof value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)))
      fail(name, 'a binding name such as "RATE_LIMITER"');
  }
  for (const name of ['now', 'onRefused', 'host'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function') fail(name, 'a function');
  if (options.overrides !== undefined && options.overrides !== false && typeof options.overrides !== 'function')
    fail('overrides', 'false or a function');
  if (options.coalesce !== undefined && typeof options.coalesce !== 'boolean') fail('coalesce', 'true or false');
  if (options.denyCache !== undefined && options.denyCache !== false && !(options.denyCache instanceof DenyCache))
    fail('denyCache', 'false or a DenyCache');
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

/** Hands `work` to the request's `waitUntil`; where there is no execution context (a test's `app.request`), it simply runs. */
function keepAlive(c: Context, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // Nothing to keep alive: the work goes on as long as the caller does.
  }
}

/** Changes the response's headers, copying the response once when they are immutable (a response straight from `fetch()`). */
function editHeaders(c: Context, edit: (headers: Headers) => void): void {
  try {
    edit(c.res.headers);
  } catch {
    c.res = new Response(c.res.body, c.res);
    edit(c.res.headers);
  }
}

/**
 * The response with a body that gives the request's concurrency slots back
 * once it has been streamed to the client, the client aborted, or the body
 * failed; `waitUntil` keeps the isolate alive until then. (Releasing twice is
 * harmless: `releaseSlots` acts once.)
 */
function holdingSlots(c: Context, response: Response, releaseSlots: (at: number) => Promise<void>, now: () => number): Response {
  let ended!: () => void;
  const released = new Promise<void>((resolve) => {
    ended = () => void releaseSlots(now()).then(resolve);
  });
  keepAlive(c, released);
  return new Response(bodyThatEnds(response.body!, ended), response);
}

/** What a built middleware exposes besides the handler, for the admin API, the dashboard and tests. */
export interface RateLimitHandle {
  /** The limiter the middleware is a face of. */
  readonly limiter: Limiter;
  readonly compiled: CompiledPolicy;
  readonly metrics: Metrics;
  readonly denyCache: DenyCache;
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
  const { now = Date.now, onRefused, host: hostOf } = options;
  const limiter = new Limiter(options);
  const { policy } = limiter;
  const forwarding = forwardingOf(policy);
  const hiddenHeaders = limiter.compiled.hiddenResponseHeaders;
  const quotaPath = policy.quota ? normalizePath(policy.quota.path, policy.caseSensitivePaths) : undefined;
  /** Where the request is decided: its bindings, the host its rules match, and its `waitUntil`. */
  const scopeOf = (c: Context): RequestScope => ({
    env: c.env as Record<string, unknown>,
    host: hostOf?.(c),
    keepAlive: (work) => keepAlive(c, work),
  });

  const refused = (c: Context, verdict: Verdict, at: number) => {
    const response = refusalResponse(verdict, policy.response, at);
    return onRefused ? onRefused(c, verdict, response) : response;
  };
  // The traffic record (policy `trafficRecord`): one line per decided request, written after the response.
  const recordTraffic = trafficRecorder(policy);
  const recordRefusal = async (c: Context, verdict: Verdict, at: number) => {
    const response = await refused(c, verdict, at);
    const writing = recordTraffic?.(verdict, response.status, at, limiter.keyDigester(c.env as Record<string, unknown>));
    if (writing) await afterResponse(c, writing);
    return response;
  };

  const handler = async function rateLimit(c: Context, next: () => Promise<void>) {
    const at = now();
    if (
      quotaPath !== undefined &&
      (c.req.method === 'GET' || c.req.method === 'HEAD') &&
      normalizePath(hostAndPath(c.req.url).pathname, policy.caseSensitivePaths) === quotaPath
    ) {
      const answer = await limiter.quota(c.req.raw, at, scopeOf(c));
      if ('refused' in answer) return refused(c, answer.refused, at);
      return c.json(answer.report, 200, { 'Cache-Control': 'no-store' });
    }
    const ambiguous = ambiguousOverride(c.req.raw, policy);
    if (ambiguous !== undefined) return badRequestResponse(ambiguous);
    const verdict = await limiter.decide(c.req.raw, at, scopeOf(c));
    c.set('rateLimit', verdict);
    // Usage per customer (subject, org) for the admin API's usage report.
    writeUsage(
      verdict,
      c.req.raw.headers,
      (c.env as Record<string, unknown> | undefined)?.[limiter.analyticsBinding] as AnalyticsSink | undefined,
    );
    if (verdict.background) await afterResponse(c, verdict.background);
    if (verdict.kind !== 'allow') return recordTraffic ? recordRefusal(c, verdict, at) : refused(c, verdict, at);
    c.set('clientForwarding', forwarding);

    let failed = false;
    // With `originHealth`, each answer of the origin is timed and counted (the clock is read again once it has answered).
    const sentAt = limiter.followsOrigin ? now() : 0;
    let slotsGivenBack = false;
    try {
      await next();
      if (limiter.followsOrigin) {
        const answeredAt = now();
        const status = c.get('originFailed') && c.res.status < 500 ? 502 : c.res.status;
        limiter.observeOrigin({
          sentAt,
          at: answeredAt,
          status,
          retryAfterMs: status === 503 ? retryAfterMs(c.res.headers.get('Retry-After'), answeredAt) : undefined,
        });
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // Outcome-counted reservations are kept or given back once the status is known, and costs the
      // response reports are settled, after the response (settle reads the headers before it returns).
      if (verdict.settle !== NOTHING_TO_SETTLE)
        await afterResponse(c, verdict.settle(failed || c.get('originFailed') ? 'error' : c.res.status, failed ? undefined : c.res));
      // Concurrency slots are held while the origin answers; a failed origin gives them back at once.
      // (A handler that threw is answered by the app's error handler, which leaves the error on the context.)
      if (verdict.releaseSlots && (failed || c.error !== undefined || c.get('originFailed') || !c.res.body)) {
        slotsGivenBack = true;
        await afterResponse(c, verdict.releaseSlots(now()));
      }
    }
    // The budget as the response's reported costs leave it, read before the cost headers go.
    const results =
      verdict.responseCosts && !c.get('originFailed')
        ? resultsAfterResponse(verdict.results, verdict.responseCosts, c.res.status, c.res.headers)
        : verdict.results;
    // The origin's cost headers are for the limiter, not the client (unless the policy keeps them).
    if (hiddenHeaders.length > 0 && hiddenHeaders.some((name) => c.res.headers.has(name)))
      editHeaders(c, (headers) => {
        for (const name of hiddenHeaders) headers.delete(name);
      });
    const writing = recordTraffic?.(verdict, c.res.status, at, limiter.keyDigester(c.env as Record<string, unknown>));
    if (writing) await afterResponse(c, writing);
    if (policy.response.headersOn === 'always') {
      // A request held by smoothing is described as of when it was let through, as its limits counted it.
      const ours = rateLimitHeaders(results, policy.response, at + (verdict.delayMs ?? 0), false);
      if (ours.length > 0) editHeaders(c, (headers) => mergeRateLimitHeaders(headers, ours));
    }
    if (verdict.releaseSlots && !slotsGivenBack) c.res = holdingSlots(c, c.res, verdict.releaseSlots, now);
  };
  return Object.assign(handler, {
    handle: { compiled: limiter.compiled, metrics: limiter.metrics, denyCache: limiter.denyCache, limiter },
  });
}
