import type { BanRequest, KeyDecision, LimitOutcome, LimitRequest } from '../algorithms/decide';

/**
 * The compact form of a check, for the call every request of exact mode
 * makes to its key's object.
 *
 * A Durable Object call copies its arguments and its answer with the
 * structured-clone serializer, whose cost grows with the number of objects
 * and properties. A key's limits and bans are the same for every request of
 * a rule, so they travel as one string, written once per rule and cost and
 * read once per object ({@link SpecCache}); the answer travels as a flat
 * array of numbers. Only `now` changes per request.
 */

/** A key's limits and bans as {@link packSpec} writes them. */
export type PackedSpec = string;

/**
 * A {@link KeyDecision} as {@link packDecision} writes it:
 * `[allowed, ...per limit: allowed, limit, remaining, used, resetAt, retryAfterMs, counted]`,
 * then `delayMs` when the request is admitted after a wait (smoothing), or
 * `bannedUntil, bannedRule, placed` when the key is banned. Flags are 0 or 1.
 * A decision without a wait has the layout it had before smoothing.
 */
export type PackedDecision = ReadonlyArray<number | string>;

/** Bumped whenever the layout changes, so an object running other code refuses a spec it would misread. */
const SPEC_VERSION = 1;
const PER_LIMIT = 7;

interface Spec {
  readonly limits: readonly LimitRequest[];
  readonly bans: readonly BanRequest[];
}

/** Writes a key's limits and bans as one string. */
export function packSpec(limits: readonly LimitRequest[], bans: readonly BanRequest[]): PackedSpec {
  return JSON.stringify([SPEC_VERSION, limits, bans]);
}

/** Reads a spec written by {@link packSpec}; throws, naming what is wrong, on anything else. */
export function unpackSpec(spec: PackedSpec): Spec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(spec);
  } catch {
    throw new TypeError('packed spec: not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw new TypeError('packed spec: expected [version, limits, bans]');
  const [version, limits, bans] = parsed as [unknown, unknown, unknown];
  if (version !== SPEC_VERSION) throw new TypeError(`packed spec: version ${String(version)}, this object reads version ${SPEC_VERSION}`);
  if (!Array.isArray(limits) || !limits.every(isLimitRequest)) throw new TypeError('packed spec: malformed limits');
  if (!Array.isArray(bans) || !bans.every(isBanRequest)) throw new TypeError('packed spec: malformed bans');
  return { limits, bans };
}

function isLimitRequest(value: unknown): value is LimitRequest {
  if (typeof value !== 'object' || value === null) return false;
  const l = value as Record<string, unknown>;
  const config = l.config as Record<string, unknown> | null | undefined;
  return (
    typeof l.id === 'string' &&
    typeof l.cost === 'number' &&
    typeof l.countRefused === 'boolean' &&
    typeof l.shadow === 'boolean' &&
    typeof config === 'object' &&
    config !== null &&
    typeof config.algorithm === 'string' &&
    typeof config.limit === 'number' &&
    typeof config.windowMs === 'number' &&
    (config.burst === undefined || typeof config.burst === 'number') &&
    (l.maxWaitMs === undefined || typeof l.maxWaitMs === 'number')
  );
}

function isBanRequest(value: unknown): value is BanRequest {
  if (typeof value !== 'object' || value === null) return false;
  const b = value as Record<string, unknown>;
  return typeof b.rule === 'string' && typeof b.after === 'number' && typeof b.withinMs === 'number' && typeof b.durationMs === 'number';
}

/**
 * Specs an object has read, by their text: a key's object sees the few
 * shapes of the rules that share its key, so it parses each once.
 */
export class SpecCache {
  private readonly specs = new Map<PackedSpec, Spec>();

  constructor(private readonly maxEntries = 64) {}

  read(spec: PackedSpec): Spec {
    let known = this.specs.get(spec);
    if (!known) {
      known = unpackSpec(spec);
      if (this.specs.size >= this.maxEntries) this.specs.delete(this.specs.keys().next().value!);
      this.specs.set(spec, known);
    }
    return known;
  }
}

/** Writes a decision as a flat array (see {@link PackedDecision}), made at its final length. */
export function packDecision(decision: KeyDecision): PackedDecision {
  const { outcomes, banned, delayMs } = decision;
  const delayed = !banned && delayMs !== undefined && delayMs > 0;
  const out = new Array<number | string>(1 + PER_LIMIT * outcomes.length + (banned ? 3 : delayed ? 1 : 0));
  out[0] = decision.allowed ? 1 : 0;
  let at = 1;
  for (const { decision: d, counted } of outcomes) {
    out[at] = d.allowed ? 1 : 0;
    out[at + 1] = d.limit;
    out[at + 2] = d.remaining;
    out[at + 3] = d.used;
    out[at + 4] = d.resetAt;
    out[at + 5] = d.retryAfterMs;
    out[at + 6] = counted ? 1 : 0;
    at += PER_LIMIT;
  }
  if (banned) {
    out[at] = banned.until;
    out[at + 1] = banned.rule;
    out[at + 2] = banned.placed ? 1 : 0;
  } else if (delayed) out[at] = delayMs;
  return out;
}

/**
 * Reads a decision written by {@link packDecision} for the `limits` asked;
 * `undefined` for anything else (an object running other code, mid-deployment).
 */
export function unpackDecision(packed: unknown, limits: readonly LimitRequest[]): KeyDecision | undefined {
  if (!Array.isArray(packed)) return undefined;
  const base = 1 + PER_LIMIT * limits.length;
  if (packed.length !== base && packed.length !== base + 1 && packed.length !== base + 3) return undefined;
  for (let i = 0; i < base; i++) if (typeof packed[i] !== 'number') return undefined;
  const values = packed as number[];
  const outcomes = limits.map((limit, j): LimitOutcome => {
    const at = 1 + PER_LIMIT * j;
    return {
      id: limit.id,
      shadow: limit.shadow,
      counted: values[at + 6] === 1,
      decision: {
        allowed: values[at] === 1,
        limit: values[at + 1]!,
        remaining: values[at + 2]!,
        used: values[at + 3]!,
        resetAt: values[at + 4]!,
        retryAfterMs: values[at + 5]!,
      },
    };
  });
  const decision: KeyDecision = { allowed: packed[0] === 1, outcomes };
  if (packed.length === base) return decision;
  if (packed.length === base + 1) {
    const delayMs = packed[base];
    return decision.allowed && typeof delayMs === 'number' && delayMs > 0 ? { ...decision, delayMs } : undefined;
  }
  const [until, rule, placed] = packed.slice(base) as unknown[];
  if (typeof until !== 'number' || typeof rule !== 'string' || (placed !== 0 && placed !== 1)) return undefined;
  return { ...decision, banned: { until, rule, ...(placed === 1 ? { placed: true } : {}) } };
}
