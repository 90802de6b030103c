import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { vi } from 'vitest';
import type { KeyDecision, KeyRequest } from '../../../src/algorithms/decide';
import { type ForwardOptions, forwardToOrigin } from '../../../src/http/forward';
import { type RateLimitOptions, rateLimit } from '../../../src/http/middleware';
import type { PolicyInput } from '../../../src/policy/schema';
import type { Release } from '../../../src/protocol/key-limiter';
import { keyLimiterFrom } from '../../../src/protocol/stand-in';
import { packDecision, unpackSpec } from '../../../src/protocol/wire';

/** A stand-in for a key's Durable Object: every call is recorded, every answer scripted. */
export interface FakeLimiter {
  readonly checks: Array<{ name: string; request: KeyRequest }>;
  readonly releases: Array<{ name: string; now: number; releases: readonly Release[] }>;
  /** A namespace-shaped object to put in the environment under `RATE_LIMITER`. */
  readonly namespace: { getByName(name: string): unknown };
}

/**
 * A fake namespace whose stubs answer `check` with `answer(name, request)`:
 * return a decision, a promise, or throw to inject a fault. With `packed`,
 * the stubs take checks in the compact form the real object takes
 * (`checkPacked`) and pack what `answer` returns when it is a decision,
 * passing anything else on as the answer.
 */
export function fakeLimiter(
  answer: (name: string, request: KeyRequest) => KeyDecision | Promise<KeyDecision>,
  release?: (name: string) => void | Promise<void>,
  { packed = false }: { packed?: boolean } = {},
): FakeLimiter {
  const checks: FakeLimiter['checks'] = [];
  const releases: FakeLimiter['releases'] = [];
  const check = (name: string, request: KeyRequest) => {
    checks.push({ name, request });
    return answer(name, request);
  };
  const pack = (value: unknown) => (isDecision(value) ? packDecision(value) : value);
  return {
    checks,
    releases,
    namespace: {
      getByName(name: string) {
        const releaseOf = (now: number, items: readonly Release[]) => {
          releases.push({ name, now, releases: items });
          return release?.(name);
        };
        // The readable form: a stand-in whose compact calls go through `check`.
        if (!packed) return keyLimiterFrom({ check: (request) => check(name, request), release: releaseOf });
        return {
          ...keyLimiterFrom({ check: (request) => check(name, request), release: releaseOf }),
          checkPacked(now: number, spec: string) {
            const answered = check(name, { now, ...unpackSpec(spec) });
            return answered instanceof Promise ? answered.then(pack) : pack(answered);
          },
        };
      },
    },
  };
}

function isDecision(value: unknown): value is KeyDecision {
  return typeof value === 'object' && value !== null && Array.isArray((value as KeyDecision).outcomes);
}

/** An admitting decision for every limit of a request. */
export function admitAll(request: KeyRequest): KeyDecision {
  return {
    allowed: true,
    outcomes: request.limits.map((l) => ({
      id: l.id,
      shadow: l.shadow,
      counted: true,
      decision: {
        allowed: true,
        limit: l.config.limit,
        used: 1,
        remaining: l.config.limit - 1,
        resetAt: request.now + l.config.windowMs,
        retryAfterMs: 0,
      },
    })),
  };
}

/** A refusing decision for every limit of a request. */
export function refuseAll(request: KeyRequest): KeyDecision {
  return {
    allowed: false,
    outcomes: request.limits.map((l) => ({
      id: l.id,
      shadow: l.shadow,
      counted: false,
      decision: {
        allowed: false,
        limit: l.config.limit,
        used: l.config.limit,
        remaining: 0,
        resetAt: request.now + 5000,
        retryAfterMs: 5000,
      },
    })),
  };
}

export interface TestAppOptions extends Partial<Omit<RateLimitOptions, 'policy'>> {
  /** Bindings besides the real ones (`RATE_LIMITER`, `RATE_LIMIT_CONFIG`, `ORIGIN_URL`). */
  readonly bindings?: Record<string, unknown>;
  /** Forward to a real origin with these options instead of answering `origin ok` in the app. */
  readonly forward?: ForwardOptions;
}

/**
 * A tiny app: the rate-limit middleware with `policy` in front of either an
 * in-app origin (counts its calls; `/status/<code>` answers that status) or
 * the real forwarder.
 */
export function testApp(policy: PolicyInput, options: TestAppOptions = {}) {
  const { bindings = {}, forward, ...limiterOptions } = options;
  // A busy test machine can take longer than the 50 ms default to answer, and a fail-open would
  // then admit uncounted; policies that do not set onError themselves get a generous one.
  const limiter = rateLimit({ policy: { onError: { mode: 'open', timeoutMs: 10_000 }, ...policy }, denyCache: false, ...limiterOptions });
  const app = new Hono();
  let originCalls = 0;
  app.use('*', limiter);
  app.all('*', (c) => {
    originCalls++;
    if (forward) return forwardToOrigin(c, forward);
    const status = /^\/status\/(\d{3})$/.exec(new URL(c.req.url).pathname)?.[1];
    return c.text('origin ok', (status ? Number(status) : 200) as 200);
  });
  const allBindings = { ...env, ...bindings } as Record<string, unknown>;
  return {
    limiter,
    metrics: limiter.handle.metrics,
    get originCalls() {
      return originCalls;
    },
    async request(path: string, init: RequestInit = {}): Promise<Response> {
      // Joined as text: `new URL('//x', base)` would read `//x` as a host, unlike a request line.
      return app.request(/^https?:/.test(path) ? path : `http://api.example.test${path}`, init, allBindings);
    },
  };
}

/** Captures the structured log lines written while a test runs. */
export function captureLogs() {
  const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
  return {
    events(name?: string): Array<Record<string, unknown>> {
      const lines = spy.mock.calls.flatMap((args) => {
        try {
          const parsed = JSON.parse(String(args[0])) as Record<string, unknown>;
          return typeof parsed === 'object' && parsed !== null ? [parsed] : [];
        } catch {
          return [];
        }
      });
      return name === undefined ? lines : lines.filter((l) => l.event === name);
    },
    restore() {
      spy.mockRestore();
    },
  };
}

/** A request header set for a client address. */
export function from(ip: string, headers: Record<string, string> = {}): RequestInit {
  return { headers: { 'CF-Connecting-IP': ip, ...headers } };
}

/** A fresh documentation-range IPv6 address in its own /64, so tests never share a key's object. */
export function freshIp(): string {
  const [a, b] = crypto.getRandomValues(new Uint16Array(2));
  return `2001:db8:${a!.toString(16)}:${b!.toString(16)}::1`;
}
