import type { Context } from 'hono';
import type { Verdict } from '../engine/verdict';
import { clientAddress } from '../request/client-ip';
import { pathAndSearch } from '../request/url-parts';
import { DEFAULT_FORWARDING, dropHopByHop, setClientAddress } from './origin-headers';

export interface ForwardOptions {
  /** Where admitted requests go: the same path and query under this origin. Without it, `fetch(request)` (the zone's origin on a route). */
  readonly originUrl?: string | undefined;
  /** Give up on the origin after this long and answer 504. */
  readonly timeoutMs?: number;
}

/** `<origin><base path>` of each origin URL forwarded to, worked out once; a worker has one or a few. */
const originPrefixes = new Map<string, string>();

function originPrefix(originUrl: string): string {
  let prefix = originPrefixes.get(originUrl);
  if (prefix === undefined) {
    const origin = new URL(originUrl);
    prefix = `${origin.origin}${origin.pathname.replace(/\/$/, '')}`;
    if (originPrefixes.size < 64) originPrefixes.set(originUrl, prefix);
  }
  return prefix;
}

/** The host name of each origin URL forwarded to, worked out once. */
const originHosts = new Map<string, string>();

/**
 * The host name an admitted request is forwarded to: the origin's when
 * there is one (it replaces the host the client asked for), otherwise
 * `undefined` (the request's own, as `fetch(request)` keeps it).
 *
 * @example forwardedHost('https://Origin.example.com:8443/base') // 'origin.example.com'
 */
export function forwardedHost(originUrl: string | undefined): string | undefined {
  if (!originUrl) return undefined;
  let host = originHosts.get(originUrl);
  if (host === undefined) {
    host = new URL(originUrl).hostname;
    if (originHosts.size < 64) originHosts.set(originUrl, host);
  }
  return host;
}

/** The URL an admitted request goes to: its path and query under the origin's base path. */
export function originTarget(requestUrl: string, originUrl: string | undefined): string {
  if (!originUrl) return requestUrl;
  return `${originPrefix(originUrl)}${pathAndSearch(requestUrl)}`;
}

/**
 * The headers the origin receives: the request's, less hop-by-hop headers,
 * with the client address the limiter used in the headers its policy names
 * (`forwardClientAddress`). Without a limiter in front, `CF-Connecting-IP` is
 * told in `X-Forwarded-For` and `X-Real-IP`, and no proxy is trusted.
 *
 * @example
 * // An origin behind a service binding instead of a URL:
 * app.all('*', (c) => c.env.BACKEND.fetch(c.req.url, { method: c.req.method, headers: originHeaders(c), body: c.req.raw.body }));
 */
export function originHeaders(c: Context): Headers {
  const headers = new Headers(c.req.raw.headers);
  dropHopByHop(headers);
  // Another middleware may have used the same context variable (hono-rate-limiter's info has no `view`).
  const verdict = c.get('rateLimit') as Partial<Verdict> | undefined;
  const address = verdict?.view
    ? verdict.view.address
    : clientAddress(c.req.raw.headers, { trustedHops: 1, ipv4Prefix: 32, ipv6Prefix: 128 });
  setClientAddress(headers, address, c.get('clientForwarding') ?? DEFAULT_FORWARDING);
  return headers;
}

/**
 * Forwards a request to the origin (method, headers, streamed body), telling
 * it the client's address and dropping hop-by-hop headers (see
 * {@link originHeaders}). An origin that cannot be reached is a 502, one that does not answer
 * in time a 504; both mark `originFailed` so reservations are released.
 *
 * @example
 * app.use('*', rateLimit({ policy }));
 * app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL }));
 */
export async function forwardToOrigin(c: Context, options: ForwardOptions): Promise<Response> {
  const request = c.req.raw;
  const headers = originHeaders(c);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 30_000);
  try {
    const init: RequestInit = { method: request.method, headers, redirect: 'manual', signal: controller.signal };
    if (request.body && request.method !== 'GET' && request.method !== 'HEAD') init.body = request.body;
    const response = await fetch(originTarget(request.url, options.originUrl), init);
    return new Response(response.body, response);
  } catch (_error) {
    c.set('originFailed', true);
    const timedOut = controller.signal.aborted;
    return new Response(JSON.stringify({ detail: timedOut ? 'Origin did not answer in time.' : 'Origin unreachable.' }), {
      status: timedOut ? 504 : 502,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    });
  } finally {
    clearTimeout(timer);
  }
}
