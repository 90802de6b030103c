import type { Identity } from '../identity/resolve';
import type { RequestFacts } from '../policy/compile';
import type { KeyPart, Policy } from '../policy/schema';
import { clientAddress, ipKey } from '../request/client-ip';
import { authorizationValue, basicUser, bearerToken, headerValue, sha256Hex, userKey } from '../request/credentials';
import { pathReadings } from '../request/normalize-path';

/** What is known of one request once, before any rule looks at it. */
export interface RequestView extends RequestFacts {
  readonly headers: Headers;
  readonly address: string | undefined;
  readonly cf: Readonly<Record<string, unknown>>;
  readonly identity: Identity;
}

/** Methods an origin's method-override support turns a POST into (Rack, Express, Laravel and Symfony accept no others). */
const OVERRIDABLE = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'POST']);

/**
 * The method rules match on: the override header's, when the policy says the
 * origin honours it. Like the frameworks that honour it, only a POST is
 * overridden and only to a standard method, so `GET` with an override, or an
 * override to a made-up method, cannot step out of the real method's limits.
 */
export function effectiveMethod(request: Request, policy: Policy): string {
  const method = request.method.toUpperCase();
  if (!policy.methodOverrideHeader || method !== 'POST') return method;
  const override = request.headers.get(policy.methodOverrideHeader)?.trim().toUpperCase();
  return override && OVERRIDABLE.has(override) ? override : method;
}

export function viewOf(request: Request, policy: Policy, identity: Identity): RequestView {
  const url = new URL(request.url);
  const [path, literalPath] = pathReadings(url.pathname, policy.caseSensitivePaths);
  return {
    method: effectiveMethod(request, policy),
    // `api.example.com.` (fully qualified) is the same host as `api.example.com`.
    host: url.hostname.toLowerCase().replace(/\.$/, ''),
    path,
    literalPath,
    tier: identity.tier,
    headers: request.headers,
    address: clientAddress(request.headers, policy.clientIp),
    cf: (request.cf ?? {}) as Record<string, unknown>,
    identity,
  };
}

/** The value of an optional key part the request does not have. */
export const ABSENT = '-';

/**
 * Derives the value of a rule's key for a request, part by part, or
 * `undefined` when a part is absent (the rule then does not apply) and not
 * `optional` (its absence is then the value {@link ABSENT}).
 * Credentials are hashed; `hash` memoises digests within the request.
 */
export async function keyValue(parts: readonly KeyPart[], view: RequestView, policy: Policy, hash: (text: string) => Promise<string>): Promise<string | undefined> {
  const values: string[] = [];
  for (const part of parts) {
    const value = await partValue(part, view, policy, hash);
    if (value !== undefined) values.push(value);
    else if (typeof part === 'object' && 'optional' in part && part.optional) values.push(ABSENT);
    else return undefined;
  }
  return values.join('|');
}

async function partValue(part: KeyPart, view: RequestView, policy: Policy, hash: (text: string) => Promise<string>): Promise<string | undefined> {
  const hashed = async (value: string | undefined) => (value === undefined ? undefined : hash(value));
  if (part === 'ip') return view.address === undefined ? undefined : ipKey(view.address, policy.clientIp);
  if (part === 'bearer') return hashed(bearerToken(view.headers));
  if (part === 'basic-user') {
    const user = basicUser(view.headers);
    return hashed(user === undefined ? undefined : userKey(user));
  }
  if (part === 'authorization') return hashed(authorizationValue(view.headers));
  // HEAD shares GET's limits, so it shares GET's key too.
  if (part === 'method') return view.method === 'HEAD' ? 'GET' : view.method;
  if (part === 'path') return view.path;
  if ('header' in part) return hashed(headerValue(view.headers, part.header));
  if ('cf' in part) {
    const value = view.cf[part.cf];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  }
  if ('identity' in part) return view.identity[part.identity];
  return part.const;
}

/** A per-request memo of SHA-256 digests. */
export function hashMemo(): (text: string) => Promise<string> {
  const memo = new Map<string, Promise<string>>();
  return (text) => {
    let digest = memo.get(text);
    if (!digest) {
      digest = sha256Hex(text);
      memo.set(text, digest);
    }
    return digest;
  };
}
