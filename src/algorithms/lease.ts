import type { KeyDecision, LimitRequest } from './decide';
import { algorithmFor } from './registry';
import type { AlgorithmName, LimitState } from './types';

/**
 * Algorithms whose budget can be leased. A window's count only ever grows
 * until the window ends, so units counted when a lease is granted and spent
 * later in the same window can never push the count past the limit. A GCRA
 * bucket refills continuously: units granted now and spent later, together
 * with the refill in between, could exceed its burst, so it is never leased.
 */
export const LEASE_ALGORITHMS: readonly AlgorithmName[] = Object.freeze(['fixed-window', 'sliding-window']);

export function leasable(algorithm: AlgorithmName): boolean {
  return LEASE_ALGORITHMS.includes(algorithm);
}

/** Units an isolate gives back: what it did not spend of a lease granted at `countedAt`. */
export interface LeaseReturn {
  readonly units: number;
  readonly countedAt: number;
}

/** An isolate asking a key's object for a budget to spend locally. */
export interface LeaseRequest {
  readonly now: number;
  /** The key's limits; every one must use a {@link LEASE_ALGORITHMS leasable} algorithm. */
  readonly limits: readonly LimitRequest[];
  /** Units wanted, at most; the request's own cost comes out of them. */
  readonly size: number;
  /** How long the isolate may spend the lease; it also ends with the window. */
  readonly ttlMs: number;
  /** The isolate's previous lease on this key, given back before the new one is granted. */
  readonly giveBack?: LeaseReturn;
}

/** A budget granted: `units` counted at `countedAt` on every limit, to be spent before `expiresAt`. */
export interface LeaseGrant {
  readonly units: number;
  readonly countedAt: number;
  readonly expiresAt: number;
}

export interface LeaseAnswer {
  /** The decision for the request that asked: allowed with the lease counted, or refused. */
  readonly decision: KeyDecision;
  /** Present when the request was admitted; its cost is already spent from it. */
  readonly grant?: LeaseGrant;
}

export interface LeaseTransition {
  readonly answer: LeaseAnswer;
  readonly limitWrites: ReadonlyMap<string, LimitState>;
}

/**
 * Grants a lease on one key, atomically across its limits: the unspent part
 * of the previous lease is given back, then `min(size, room)` units are
 * counted on every limit, where `room` is what the fullest limit still
 * admits. When the room is smaller than the request's cost, nothing is
 * counted and the request is refused with the same retry time exact mode
 * gives. The lease ends at `now + ttlMs` or when the first window ends,
 * whichever is sooner, so budget is never spent in a window it was not
 * counted in.
 *
 * Pure: `read` gives stored states, the result says what to write.
 */
export function grantLease(read: (id: string) => LimitState | undefined, request: LeaseRequest): LeaseTransition {
  const { now, limits, size, ttlMs, giveBack } = request;
  const limitWrites = new Map<string, LimitState>();
  const cost = Math.max(0, ...limits.map((l) => l.cost));

  const states = limits.map((l) => {
    if (!leasable(l.config.algorithm)) throw new Error(`limit ${l.id}: ${l.config.algorithm} budgets cannot be leased`);
    const stored = read(l.id);
    if (!stored || !giveBack || giveBack.units <= 0) return stored;
    const returned = algorithmFor(l.config.algorithm).release(stored, now, l.config, giveBack.units, giveBack.countedAt);
    limitWrites.set(l.id, returned);
    return returned;
  });

  const room = Math.min(...limits.map((l, i) => algorithmFor(l.config.algorithm).peek(states[i], now, l.config).remaining));
  const units = Math.min(Math.max(size, cost), room);

  if (limits.length === 0 || units < cost || units <= 0) {
    const outcomes = limits.map((l, i) => {
      const trial = algorithmFor(l.config.algorithm).consume(states[i], now, l.config, cost, false);
      return { id: l.id, shadow: false, counted: false, decision: trial.decision };
    });
    return { answer: { decision: { allowed: outcomes.every((o) => o.decision.allowed) && limits.length > 0, outcomes } }, limitWrites };
  }

  let expiresAt = now + ttlMs;
  let countedNow = true;
  const outcomes = limits.map((l, i) => {
    const step = algorithmFor(l.config.algorithm).consume(states[i], now, l.config, units, false);
    limitWrites.set(l.id, step.state);
    expiresAt = Math.min(expiresAt, step.state.windowStart + l.config.windowMs);
    // A state already in a later window (another isolate's clock ran ahead) counted the lease there, not in `now`'s window.
    if (step.state.windowStart > now) countedNow = false;
    return { id: l.id, shadow: false, counted: true, decision: step.decision };
  });
  // Units counted in another window than `now`'s are never given back: returning them to `now`'s window could free budget that was never taken.
  return { answer: { decision: { allowed: true, outcomes }, grant: { units, countedAt: countedNow ? now : 0, expiresAt } }, limitWrites };
}
