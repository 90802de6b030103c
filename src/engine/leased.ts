import type { KeyDecision, LimitRequest } from '../algorithms/decide';
import { type LeaseAnswer, type LeaseRequest, leasable } from '../algorithms/lease';
import { logEvent } from '../observability/log';
import { askExactly, failed, type GroupAnswer, type KeyObjects, type PreparedGroup } from './ask-object';
import type { LeaseCache } from './lease-cache';
import type { Group } from './verdict';
import { withTimeout } from './with-timeout';

/** The keys' objects, with the budgets leased from hot keys' objects (rules with `lease`). */
export interface LeasedKeyObjects extends KeyObjects {
  /** Without it every request asks the object. */
  readonly leases?: LeaseCache | undefined;
}

/**
 * Decides from the isolate's live lease on the group's key, if it has one
 * with units left; the top-up of a lease running low is pushed onto
 * `topUps`. `undefined` when the object must be asked (`askLeasedGroup`).
 */
export function spendLease(
  group: Group,
  prepared: PreparedGroup,
  keys: LeasedKeyObjects,
  now: number,
  topUps: Array<Promise<void>>,
): GroupAnswer | undefined {
  const { lease, cacheKey, cost, limits, onError } = prepared;
  if (!lease || !keys.leases) return undefined;
  const decision = spendLocally(group.name, cacheKey, limits, lease, now, cost, keys, keys.leases, onError.timeoutMs, topUps);
  return decision && { kind: 'decided', decision, cached: true };
}

/**
 * Spends `cost` from the live lease on `cacheKey`, and pushes its top-up
 * onto `topUps` when it runs low (see {@link LeaseCache.low}); `undefined`
 * when the lease has not enough left. Nothing is made for the top-up's
 * request unless one starts: this runs for every request a lease admits.
 */
function spendLocally(
  name: string,
  cacheKey: string,
  limits: readonly LimitRequest[],
  lease: { readonly size: number; readonly ttlMs: number },
  now: number,
  cost: number,
  keys: LeasedKeyObjects,
  leases: LeaseCache,
  timeoutMs: number,
  topUps: Array<Promise<void>>,
): KeyDecision | undefined {
  const decision = leases.take(cacheKey, now, cost);
  if (!decision) return undefined;
  if (leases.low(cacheKey, now, lease.ttlMs))
    topUps.push(topUp(name, cacheKey, { now, limits, size: lease.size, ttlMs: lease.ttlMs }, cost, keys, leases, timeoutMs));
  return decision;
}

/** Spends or fetches a lease for the group, or asks the object exactly when that cannot decide. */
export async function askLeasedGroup(
  group: Group,
  prepared: PreparedGroup,
  keys: LeasedKeyObjects,
  now: number,
  topUps: Array<Promise<void>>,
): Promise<GroupAnswer> {
  const { limits, cost, cacheKey, lease, onError } = prepared;
  try {
    const leased = await askLease(group.name, cacheKey, { now, limits, ...lease! }, cost, keys, keys.leases!, onError.timeoutMs, topUps);
    if (leased) return leased;
  } catch (error) {
    return failed(error, onError);
  }
  return askExactly(group, prepared, keys, now);
}

/** Lease size and lifetime when every rule of the group opts in and every limit can be leased; the smallest of each wins. */
export function leaseSettings(group: Group): { size: number; ttlMs: number } | undefined {
  const leases = group.rules.map((r) => r.rule.lease);
  if (leases.some((l) => l === undefined)) return undefined;
  if (!group.limits.every((l) => leasable(l.limit.config.algorithm) && !l.limit.countWhen)) return undefined;
  return { size: Math.min(...leases.map((l) => l!.size)), ttlMs: Math.min(...leases.map((l) => l!.ttl)) };
}

/**
 * Decides from a lease: spends from this isolate's live lease, or asks the
 * object for a new one (one request per key at a time; the others wait for
 * it and spend from it). `undefined` when a request waited too many turns
 * under contention, so the caller asks the object directly. A top-up the
 * request starts is pushed onto `topUps`.
 */
async function askLease(
  name: string,
  cacheKey: string,
  request: Omit<LeaseRequest, 'giveBack'>,
  cost: number,
  keys: LeasedKeyObjects,
  leases: LeaseCache,
  timeoutMs: number,
  topUps: Array<Promise<void>>,
): Promise<GroupAnswer | undefined> {
  // Each turn either spends from the lease another request just fetched, or fetches one; the bound only guards against starvation.
  for (let turn = 0; turn < 100; turn++) {
    const local = spendLocally(name, cacheKey, request.limits, request, request.now, cost, keys, leases, timeoutMs, topUps);
    if (local) return { kind: 'decided', decision: local, cached: true };
    // Unspent units of a lapsed lease go back to the object first: they may be all the budget left.
    const denied = leases.holdsUnspent(cacheKey) ? undefined : keys.denyCache.get(cacheKey, request.now, cost);
    if (denied) return { kind: 'decided', decision: denied, cached: true };
    // Surrender, ask and store under one key's turn, so no other request of this isolate can replace the lease in between.
    // Where requests cannot wait for each other, one that finds another asking decides on its own, exactly.
    if (!leases.waits && leases.busy(cacheKey)) return undefined;
    // A stub made in this turn: after waiting, a request may resume in another context than an earlier stub's.
    const lease = leaseCall(keys, name);
    const decision = await leases.single(cacheKey, async () => {
      const size = leases.askSize(cacheKey, request.now, request.size, request.ttlMs);
      const giveBack = leases.surrender(cacheKey, request.now);
      const answer = await withTimeout(
        Promise.resolve(lease({ ...request, size, ...(giveBack ? { giveBack } : {}) })),
        timeoutMs,
        leases.clock,
      );
      if (answer.grant) return leases.store(cacheKey, answer.grant, cost, answer.decision, request.now);
      if (!answer.decision.allowed) keys.denyCache.remember(cacheKey, request.now, cost, answer.decision);
      return answer.decision;
    });
    if (decision) return { kind: 'decided', decision, cached: false };
  }
  return undefined;
}

/** The `lease` method of a key's object, on a stub made now. */
function leaseCall(keys: KeyObjects, name: string): (request: LeaseRequest) => Promise<LeaseAnswer> | LeaseAnswer {
  const stub = keys.limiterFor(name);
  // Called on the stub itself: an RPC stub answers every property as a remote method, `bind` included.
  return (request) => stub.lease(request);
}

/**
 * Fetches the next units of a lease running low while the isolate still
 * spends the last ones (see {@link LeaseCache.low}), so other requests do
 * not find it empty and ask the object themselves. The request that fetches
 * has already been decided and does not wait for it (it finishes after the
 * response, see `Verdict.background`); a failed fetch only costs its
 * units.
 */
async function topUp(
  name: string,
  cacheKey: string,
  request: Omit<LeaseRequest, 'giveBack'>,
  cost: number,
  keys: LeasedKeyObjects,
  leases: LeaseCache,
  timeoutMs: number,
): Promise<void> {
  try {
    const lease = leaseCall(keys, name);
    await leases.single(cacheKey, async () => {
      const size = leases.askSize(cacheKey, request.now, request.size, request.ttlMs);
      const answer = await withTimeout(Promise.resolve(lease({ ...request, size })), timeoutMs, leases.clock);
      if (answer.grant) return leases.topUp(cacheKey, answer.grant, answer.decision, request.now);
      // No room left: the lease is spent to the end, and the refusal then answers from the deny cache.
      leases.noMore(cacheKey);
      if (!answer.decision.allowed) keys.denyCache.remember(cacheKey, request.now, cost, answer.decision);
    });
  } catch (error) {
    logEvent('lease_failed', { error: String(error), timeoutMs });
  }
}
