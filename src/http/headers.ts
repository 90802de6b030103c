import { holdsSlots } from '../algorithms/concurrency';
import type { LimitResult } from '../engine/verdict';
import type { ResponseSettings } from '../policy/schema';

type HeaderName = ResponseSettings['headers'][number];

/** Seconds, rounded up, never 0 for a positive wait. */
export function ceilSeconds(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / 1000);
}

/** A decimal as Python's float `str` writes it (`60.0`, `0.98256663893`), the form X-RateLimit-Interval takes. */
function decimal(value: number): string {
  const rounded = Math.round(value * 1e11) / 1e11;
  return Number.isInteger(rounded) ? rounded.toFixed(1) : String(rounded);
}

/** The share of a limit already used, for picking the limit nearest exhaustion. */
function pressure(r: LimitResult): number {
  const { decision } = r;
  if (decision.limit <= 0) return Number.POSITIVE_INFINITY;
  return (decision.limit - decision.remaining) / decision.limit;
}

/**
 * Whether a result stays out of the headers: shadow limits, and, while they
 * admit, limits of `quiet` rules and of `countResponses` rules (they count
 * failed responses, not the requests a caller plans with). Once they refuse,
 * they are what to report.
 */
function hidden(r: LimitResult): boolean {
  return r.shadow || ((r.limit.countResponses !== undefined || r.limit.quiet === true) && r.decision.allowed);
}

/**
 * The limit a single-valued header family reports: when refused, the refusing
 * limit with the longest wait; otherwise the one closest to being reached,
 * percentage-wise (Keygen's `X-RateLimit-Window` semantics). Shadow limits
 * never show, nor quiet or response-counting limits that admit.
 */
export function headlineResult(results: readonly LimitResult[], refused: boolean): LimitResult | undefined {
  const visible = results.filter((r) => !hidden(r));
  if (refused) {
    const refusing = visible.filter((r) => !r.decision.allowed);
    if (refusing.length > 0) return refusing.reduce((a, b) => (b.decision.retryAfterMs > a.decision.retryAfterMs ? b : a));
  }
  return visible.reduce<LimitResult | undefined>((best, r) => {
    if (!best) return r;
    const [pb, pr] = [pressure(best), pressure(r)];
    if (pr > pb || (pr === pb && r.decision.remaining < best.decision.remaining)) return r;
    return best;
  }, undefined);
}

/** Header names a policy's families stand for, and whether any of them reports a single limit (see {@link headlineResult}). */
interface Wanted {
  readonly names: ReadonlySet<HeaderName>;
  readonly headline: boolean;
}

const expanded = new WeakMap<readonly HeaderName[], Wanted>();

/** The header names a policy's families stand for; worked out once per policy. */
function expand(sets: readonly HeaderName[]): Wanted {
  const known = expanded.get(sets);
  if (known) return known;
  const names = new Set<HeaderName>();
  for (const s of sets) {
    if (s === 'ietf') names.add('ratelimit').add('ratelimit-policy');
    else if (s === 'x-ratelimit') names.add('x-ratelimit-limit').add('x-ratelimit-remaining').add('x-ratelimit-reset');
    else names.add(s);
  }
  const wanted = { names, headline: [...names].some((n) => n !== 'ratelimit' && n !== 'ratelimit-policy') };
  expanded.set(sets, wanted);
  return wanted;
}

/** An IETF policy name: a Structured Fields string. */
function sfString(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * The `w` of a limit's policy item: the seconds its quota `q` applies to.
 * A GCRA limit's quota is its burst, which refills at `limit` per `window`:
 * as a quota that is `burst` per `window × burst / limit` (10 a burst at 5 a
 * second is 10 per 2 s), not `burst` per `window`, which would double the
 * rate a client plans with. Rounded up, so never a faster rate than enforced.
 */
function quotaWindowSeconds(r: LimitResult): number {
  const { config } = r.limit;
  const windowMs = config.algorithm === 'gcra' && config.limit > 0 ? (config.windowMs * r.decision.limit) / config.limit : config.windowMs;
  return Math.max(1, Math.ceil(windowMs / 1000 - 1e-9));
}

const policyItems = new WeakMap<LimitResult['limit'], { readonly name: string; quota: number; item: string }>();

/** A limit's name as a Structured Fields string, and its `RateLimit-Policy` item for quota `q`; written once per limit and quota. */
function policyItem(r: LimitResult): { readonly name: string; readonly item: string } {
  let known = policyItems.get(r.limit);
  if (!known) policyItems.set(r.limit, (known = { name: sfString(r.limit.id), quota: Number.NaN, item: '' }));
  if (known.quota !== r.decision.limit) {
    known.quota = r.decision.limit;
    // A concurrency limit's quota is requests in flight, with no window (the draft's "concurrent-requests" unit).
    known.item = holdsSlots(r.limit.config)
      ? `${known.name};q=${r.decision.limit};qu="concurrent-requests"`
      : `${known.name};q=${r.decision.limit};w=${quotaWindowSeconds(r)}`;
  }
  return known;
}

/** A limit's `RateLimit` item: what remains, and the seconds until the window resets (or, refused, until it may be retried); a concurrency limit that admits gives no time. */
function rateLimitItem(r: LimitResult, now: number): string {
  // Slots free up when requests end, not at a window's end: only a refusal has a time to tell.
  if (holdsSlots(r.limit.config) && r.decision.allowed) return `${policyItem(r).name};r=${r.decision.remaining}`;
  const wait = r.decision.allowed ? r.decision.resetAt - now : r.decision.retryAfterMs;
  return `${policyItem(r).name};r=${r.decision.remaining};t=${ceilSeconds(wait)}`;
}

/**
 * The rate-limit headers for a response, in the families the policy asks
 * for. Pure: a function of the results, the settings and the clock.
 */
export function rateLimitHeaders(
  results: readonly LimitResult[],
  settings: Pick<ResponseSettings, 'headers'>,
  now: number,
  refused: boolean,
): Array<[string, string]> {
  const { names: wanted, headline } = expand(settings.headers);
  const out: Array<[string, string]> = [];
  const visible = results.some(hidden) ? results.filter((r) => !hidden(r)) : results;
  if (visible.length === 0) return out;

  // Most requests meet one limit: its item is the whole field.
  if (wanted.has('ratelimit-policy'))
    out.push(['RateLimit-Policy', visible.length === 1 ? policyItem(visible[0]!).item : visible.map((r) => policyItem(r).item).join(', ')]);
  if (wanted.has('ratelimit'))
    out.push(['RateLimit', visible.length === 1 ? rateLimitItem(visible[0]!, now) : visible.map((r) => rateLimitItem(r, now)).join(', ')]);

  const head = headline ? headlineResult(results, refused) : undefined;
  if (!head) return out;
  const d = head.decision;
  const resetIn = Math.max(0, d.resetAt - now);
  if (wanted.has('x-ratelimit-window')) out.push(['X-RateLimit-Window', head.limit.name]);
  if (wanted.has('x-ratelimit-count')) out.push(['X-RateLimit-Count', String(d.used)]);
  if (wanted.has('x-ratelimit-limit')) out.push(['X-RateLimit-Limit', String(d.limit)]);
  if (wanted.has('x-ratelimit-remaining')) out.push(['X-RateLimit-Remaining', String(d.remaining)]);
  if (wanted.has('x-ratelimit-reset')) out.push(['X-RateLimit-Reset', String(Math.ceil(d.resetAt / 1000))]);
  if (wanted.has('x-ratelimit-interval')) {
    const seconds = d.allowed ? resetIn / 1000 / Math.max(1, d.remaining) : d.retryAfterMs / 1000;
    out.push(['X-RateLimit-Interval', decimal(seconds)]);
  }
  return out;
}

const X_FAMILY = [
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'X-RateLimit-Count',
  'X-RateLimit-Window',
  'X-RateLimit-Interval',
];

/**
 * Adds the limiter's headers to an origin response without loosening what
 * the origin said: IETF lists are joined (a client honours every item), and
 * an origin X-RateLimit family with fewer remaining than ours is kept.
 */
export function mergeRateLimitHeaders(target: Headers, ours: ReadonlyArray<[string, string]>): void {
  // Only an X-RateLimit family of ours needs the origin's looked at (the IETF lists are appended whatever the origin said).
  let keepOriginFamily = false;
  if (ours.some(([n]) => X_FAMILY.includes(n))) {
    const origin = target.get('X-RateLimit-Remaining');
    const originRemaining = Number(origin);
    const oursRemaining = Number(ours.find(([n]) => n === 'X-RateLimit-Remaining')?.[1]);
    keepOriginFamily =
      origin !== null && Number.isFinite(originRemaining) && (!Number.isFinite(oursRemaining) || originRemaining < oursRemaining);
  }
  for (const [name, value] of ours) {
    if (name === 'RateLimit' || name === 'RateLimit-Policy') {
      // List fields: an appended value joins the origin's with ", ", as one field line.
      target.append(name, value);
    } else if (X_FAMILY.includes(name)) {
      if (!keepOriginFamily) target.set(name, value);
    } else {
      target.set(name, value);
    }
  }
}
