import type { Identity } from '../identity/resolve';
import type { RequestFacts } from '../policy/compile';
import type { KeyPart, Policy } from '../policy/schema';
import { clientAddress, ipKey } from '../request/client-ip';
import { authorizationValue, basicUser, bearerToken, headerValue, sha256Hex, userKey } from '../request/credentials';
import { pathReadings } from '../request/normalize-path';
import { hostAndPath } from '../request/url-parts';

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

/**
 * Why the request's method override cannot be read one way only, or
 * `undefined`. A list (`DELETE, x`), which is also how a repeated header
 * arrives, means different methods to different origins: Express takes the
 * first item, Rack and Symfony the whole value (no method, so a POST, or an
 * error). Whichever reading the limiter chose, an origin reading it the
 * other way would step out of a limit, so such a request is refused (400).
 */
export function ambiguousOverride(request: Request, policy: Policy): string | undefined {
  const header = policy.methodOverrideHeader;
  if (!header || request.method.toUpperCase() !== 'POST') return undefined;
  const value = request.headers.get(header);
  return value?.includes(',') ? `${header} must name one method; it was sent more than once or as a list` : undefined;
}

/** The request as rules see it; `host`, when given, is the host rules match instead of the request's (the host it is forwarded to). */
export function viewOf(request: Request, policy: Policy, identity: Identity, host?: string): RequestView {
  return new View(request, policy, identity, host);
}

/** A {@link RequestView}: its fields are read once, `request.cf` (built anew on every read, and seldom needed) when first asked for. */
class View implements RequestView {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly literalPath: string | undefined;
  readonly tier: string;
  readonly headers: Headers;
  readonly address: string | undefined;
  private cfFields: Readonly<Record<string, unknown>> | undefined;

  constructor(
    private readonly request: Request,
    policy: Policy,
    readonly identity: Identity,
    forwardedHost: string | undefined,
  ) {
    const url = hostAndPath(request.url);
    const { pathname } = url;
    const hostname = forwardedHost?.toLowerCase() ?? url.hostname;
    const readings = pathReadings(pathname, policy.caseSensitivePaths);
    this.method = effectiveMethod(request, policy);
    // `api.example.com.` (fully qualified) is the same host as `api.example.com`.
    this.host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
    this.path = readings[0];
    this.literalPath = readings[1];
    this.tier = identity.tier;
    this.headers = request.headers;
    this.address = clientAddress(this.headers, policy.clientIp);
  }

  get cf(): Readonly<Record<string, unknown>> {
    return (this.cfFields ??= (this.request.cf ?? {}) as Record<string, unknown>);
  }
}

/** The value of an optional key part the request does not have. */
export const ABSENT = '-';

/** Key parts whose value is a digest (credentials and headers, which may hold secrets). */
function hashedPart(part: KeyPart): boolean {
  return part === 'bearer' || part === 'basic-user' || part === 'authorization' || (typeof part === 'object' && 'header' in part);
}

/**
 * Derives the value of a rule's key for a request, part by part, or
 * `undefined` when a part is absent (the rule then does not apply) and not
 * `optional` (its absence is then the value {@link ABSENT}).
 * Credentials are hashed; `hash` memoises digests within the request. A key
 * with nothing to hash is known at once, without waiting.
 */
export function keyValue(
  parts: readonly KeyPart[],
  view: RequestView,
  policy: Policy,
  hash: (text: string) => Promise<string>,
): string | undefined | Promise<string | undefined> {
  if (parts.some(hashedPart)) return hashedKeyValue(parts, view, policy, hash);
  if (parts.length === 1) return withAbsence(parts[0]!, plainValue(parts[0]!, view, policy));
  const values: string[] = [];
  for (const part of parts) {
    const value = withAbsence(part, plainValue(part, view, policy));
    if (value === undefined) return undefined;
    values.push(value);
  }
  return values.join('|');
}

async function hashedKeyValue(
  parts: readonly KeyPart[],
  view: RequestView,
  policy: Policy,
  hash: (text: string) => Promise<string>,
): Promise<string | undefined> {
  const values: string[] = [];
  for (const part of parts) {
    const value = withAbsence(part, hashedPart(part) ? await hashedValue(part, view, hash) : plainValue(part, view, policy));
    if (value === undefined) return undefined;
    values.push(value);
  }
  return values.join('|');
}

/** A part's value, {@link ABSENT} for an optional part the request does not have, or `undefined`. */
function withAbsence(part: KeyPart, value: string | undefined): string | undefined {
  if (value !== undefined) return value;
  return typeof part === 'object' && 'optional' in part && part.optional ? ABSENT : undefined;
}

async function hashedValue(part: KeyPart, view: RequestView, hash: (text: string) => Promise<string>): Promise<string | undefined> {
  let value: string | undefined;
  if (part === 'bearer') value = bearerToken(view.headers);
  else if (part === 'basic-user') {
    const user = basicUser(view.headers);
    value = user === undefined ? undefined : userKey(user);
  } else if (part === 'authorization') value = authorizationValue(view.headers);
  else if (typeof part === 'object' && 'header' in part) value = headerValue(view.headers, part.header);
  return value === undefined ? undefined : hash(value);
}

function plainValue(part: KeyPart, view: RequestView, policy: Policy): string | undefined {
  if (part === 'ip') return view.address === undefined ? undefined : ipKey(view.address, policy.clientIp);
  // HEAD shares GET's limits, so it shares GET's key too.
  if (part === 'method') return view.method === 'HEAD' ? 'GET' : view.method;
  if (part === 'path') return view.path;
  if (typeof part !== 'object') return undefined;
  if ('cf' in part) {
    const value = view.cf[part.cf];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  }
  if ('identity' in part) return view.identity[part.identity];
  if ('const' in part) return part.const;
  return undefined;
}

/** A per-request memo of SHA-256 digests. */
export function hashMemo(): (text: string) => Promise<string> {
  // Most requests hash nothing: the map is made on the first digest.
  let memo: Map<string, Promise<string>> | undefined;
  return (text) => {
    memo ??= new Map();
    let digest = memo.get(text);
    if (!digest) {
      digest = sha256Hex(text);
      memo.set(text, digest);
    }
    return digest;
  };
}
