import { holdsSlots } from '../algorithms/concurrency';
import type { BanRequest, KeyDecision, LimitRequest } from '../algorithms/decide';
import type { OnError } from '../policy/schema';
import type { KeyLimiter } from '../protocol/key-limiter';
import { type PackedSpec, unpackDecision } from '../protocol/wire';
import type { CheckBatcher } from './check-batcher';
import type { Clock } from './clock';
import type { DenyCache } from './deny-cache';
import type { Group } from './verdict';
import type { WaitQueue } from './wait-queue';
import { withTimeout } from './with-timeout';

/** The keys' objects, and what asking them shares in the isolate; built once per set of bindings by the limiter. */
export interface KeyObjects {
  /** The stub of the object for a key name. */
  readonly limiterFor: (name: string) => KeyLimiter;
  /** Refusals known in the isolate: an object's refusal is remembered here. */
  readonly denyCache: DenyCache;
  /** Coalesces concurrent calls to one key's object; without it each request makes its own call. */
  readonly batcher?: CheckBatcher | undefined;
  /** What the object calls' timeouts are timed by, and held requests' waits; the system clock by default. */
  readonly clock?: Clock | undefined;
  /** Requests held per key while they wait (rules with `smooth`); without it no request is held, each is refused as before. */
  readonly waiting?: WaitQueue | undefined;
}

/** What came of asking one group: its object's (or this isolate's) decision, a fault, or nothing asked. */
export type GroupAnswer =
  | { kind: 'decided'; decision: KeyDecision; cached: boolean }
  | { kind: 'failed'; onError: OnError; error: string }
  /** Not asked: the request is refused under another key, and this one need not see it. */
  | { kind: 'skipped' };

/** What asking one group's object takes, worked out once per request. */
export interface PreparedGroup {
  readonly limits: readonly LimitRequest[];
  readonly bans: readonly BanRequest[];
  /** `limits` and `bans` packed for the object's `checkPacked`. */
  readonly spec: PackedSpec;
  readonly cost: number;
  readonly cacheKey: string;
  /** Whether its refusals may be answered in the isolate: refusals that count, shadow limits and bans need the object to see every request. */
  readonly cacheable: boolean;
  readonly lease: { size: number; ttlMs: number } | undefined;
  readonly onError: OnError;
  /** Set when a rule of the group smooths (`smooth`): what the object is asked when the request may wait, and the bounds. */
  readonly smooth: SmoothedAsk | undefined;
}

/** How a group whose rules smooth asks its object when this isolate may hold the request. */
export interface SmoothedAsk {
  /** `limits` with the rules' waits allowed (`maxWaitMs`), and packed. */
  readonly limits: readonly LimitRequest[];
  readonly spec: PackedSpec;
  /** The longest wait any of the group's rules allows. */
  readonly maxWaitMs: number;
  /** How many requests may wait under the key in this isolate: the smallest bound of the group's rules. */
  readonly maxQueued: number;
}

/** What to ask the object: with waits allowed when the group smooths and this isolate has room to hold one more request for the key. */
function askOf(
  group: Group,
  prepared: PreparedGroup,
  keys: KeyObjects,
  now: number,
): { limits: readonly LimitRequest[]; spec: PackedSpec } {
  const { smooth } = prepared;
  return smooth && keys.waiting?.hasRoom(group.name, smooth.maxQueued, now) ? smooth : prepared;
}

/**
 * Asks the group's object to decide this request. In exact mode this is
 * every request's path: one call, its timer, and one continuation that
 * reads the answer.
 */
export function askExactly(group: Group, prepared: PreparedGroup, keys: KeyObjects, now: number): Promise<GroupAnswer> {
  try {
    const { bans, onError } = prepared;
    const { limits, spec } = askOf(group, prepared, keys, now);
    if (keys.batcher) {
      const asking = withTimeout(
        keys.batcher.check(group.name, () => keys.limiterFor(group.name), { now, limits, bans }, onError.timeoutMs / 2),
        onError.timeoutMs,
        keys.clock,
      );
      return answerOf(asking, (answer) => asKeyDecision(answer, limits.length), prepared, keys, now);
    }
    return answerOf(
      withTimeout(keys.limiterFor(group.name).checkPacked(now, spec), onError.timeoutMs, keys.clock),
      (packed) => unpackDecision(packed, limits),
      prepared,
      keys,
      now,
    );
  } catch (error) {
    return Promise.resolve(failed(error, prepared.onError));
  }
}

/** The group answer once `asking` settles: the decision `read` finds in the object's answer, or the fault. */
function answerOf<A>(
  asking: Promise<A>,
  read: (answer: A) => KeyDecision | undefined,
  prepared: PreparedGroup,
  keys: KeyObjects,
  now: number,
): Promise<GroupAnswer> {
  return asking.then(
    (answer) => {
      try {
        return answered(read(answer), prepared, keys, now);
      } catch (error) {
        return failed(error, prepared.onError);
      }
    },
    (error: unknown) => failed(error, prepared.onError),
  );
}

/** The object's answer as a group answer; one in another shape (an object running other code, mid-deployment) is a fault, not a 500. */
function answered(decision: KeyDecision | undefined, prepared: PreparedGroup, keys: KeyObjects, now: number): GroupAnswer {
  if (!decision) return failed(new Error('malformed answer from the key object'), prepared.onError);
  // A refusal of a smoothing group holds only until a request could wait its way in.
  if (prepared.cacheable && !decision.allowed && !refusedForSlots(decision, prepared.limits))
    keys.denyCache.remember(prepared.cacheKey, now, prepared.cost, decision, prepared.smooth?.maxWaitMs ?? 0);
  return { kind: 'decided', decision, cached: false };
}

/**
 * Whether a concurrency limit refused: such a refusal can end before its
 * retry time (a slot given back), so the isolate cannot remember it.
 */
function refusedForSlots(decision: KeyDecision, limits: readonly LimitRequest[]): boolean {
  return decision.outcomes.some((o, i) => !o.decision.allowed && holdsSlots(limits[i]!.config));
}

export function failed(error: unknown, onError: OnError): GroupAnswer {
  const overloaded =
    typeof error === 'object' && error !== null && 'overloaded' in error && (error as { overloaded?: unknown }).overloaded === true;
  return { kind: 'failed', onError, error: overloaded ? 'overloaded' : String(error) };
}

/** An object's answer when it has the shape this code reads (one outcome per limit asked), else `undefined`. */
function asKeyDecision(value: unknown, limits: number): KeyDecision | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Partial<KeyDecision>;
  const fits =
    typeof d.allowed === 'boolean' &&
    Array.isArray(d.outcomes) &&
    d.outcomes.length === limits &&
    d.outcomes.every(
      (o) =>
        typeof o === 'object' &&
        o !== null &&
        typeof o.decision === 'object' &&
        o.decision !== null &&
        typeof o.decision.allowed === 'boolean',
    );
  return fits ? (value as KeyDecision) : undefined;
}
