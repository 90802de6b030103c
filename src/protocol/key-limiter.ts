import type { KeyDecision, KeyRequest } from '../algorithms/decide';
import type { LeaseAnswer, LeaseRequest } from '../algorithms/lease';
import type { LimitConfig, LimitDecision } from '../algorithms/types';
import type { PackedDecision, PackedSpec } from './wire';

/**
 * What crosses between the worker and a key's Durable Object: the calls the
 * object answers and the records they carry. The engine calls it, the object
 * (`durable-object/rate-limiter.ts`) implements it; neither imports the
 * other. Every method is always there: nothing is probed at run time.
 */

/** A counted reservation to give back: the limit, its configuration, the cost and when it was counted. */
export interface Release {
  readonly id: string;
  readonly config: LimitConfig;
  readonly cost: number;
  readonly countedAt: number;
}

/** Units to count after the fact: the limit, its configuration and the cost (a response a `countResponses` rule counts). */
export interface Charge {
  readonly id: string;
  readonly config: LimitConfig;
  readonly cost: number;
}

/** What `inspect` shows of a key. */
export interface KeySnapshot {
  readonly limits: ReadonlyArray<{ id: string; config: LimitConfig; decision: LimitDecision }>;
  readonly bans: ReadonlyArray<{ rule: string; bannedUntil: number; violations: number }>;
  readonly alarmAt: number | null;
}

/** A key's object as the engine calls it (a Durable Object stub, or a stand-in with the same methods). */
export interface KeyLimiter {
  /** Decides one request against every limit it meets under this key. */
  check(request: KeyRequest): Promise<KeyDecision> | KeyDecision;
  /** {@link check} in the compact form of `./wire`: the call every request of exact mode makes. */
  checkPacked(now: number, spec: PackedSpec): Promise<PackedDecision> | PackedDecision;
  /** Several requests decided one after the other in one call (coalesced requests). */
  checkBatch(requests: readonly KeyRequest[]): Promise<KeyDecision[]> | KeyDecision[];
  /** Lends the isolate a budget of units on every limit at once (rules with `lease`). */
  lease(request: LeaseRequest): Promise<LeaseAnswer> | LeaseAnswer;
  /** Gives back reservations whose response did not match their `countWhen`. */
  release(now: number, releases: readonly Release[]): Promise<void> | void;
  /** Counts responses of `countResponses` rules after the origin answered. */
  charge(now: number, charges: readonly Charge[]): Promise<void> | void;
  /** The key's live counters and bans, without counting anything. */
  inspect(now: number): Promise<KeySnapshot> | KeySnapshot;
}

/** Where the engine finds a key's object: its stub, by the key's object name. */
export type KeyObjects = (name: string) => KeyLimiter;

/**
 * The Durable Object binding of `RateLimiter` as the engine uses it (e.g.
 * `env.RATE_LIMITER`): its stubs answer {@link KeyLimiter}'s calls.
 */
export interface KeyObjectNamespace {
  getByName(name: string): unknown;
}
