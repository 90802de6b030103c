import type { KeyDecision } from '../algorithms/decide';
import type { LeaseGrant, LeaseReturn } from '../algorithms/lease';
import { type Clock, systemClock } from './clock';

/**
 * What this isolate spent on a key since its first lease on it, or since
 * the latest lease that lapsed was granted: the pace that sizes its next
 * lease.
 */
interface Pace {
  readonly since: number;
  spent: number;
}

/** A lease holds this many times what the isolate spends on the key in one lease lifetime, at its pace. */
export const LEASE_HEADROOM = 3;

interface Lease {
  /** Units this isolate may still spend. */
  balance: number;
  /** Units of the latest grant: the lease is low at half of them. */
  readonly granted: number;
  readonly pace: Pace;
  /** When the lease was granted (a top-up that joins it keeps this), and what its pace had spent by then. */
  readonly grantedAt: number;
  readonly spentBefore: number;
  /** How long its first grant was to live: a key back within that of a lapse keeps its pace. */
  readonly lifetimeMs: number;
  readonly countedAt: number;
  readonly expiresAt: number;
  /** The object's decision when the lease was granted, with the whole lease counted. */
  readonly decision: KeyDecision;
  /** Set when the object had no more units to add: the lease is spent to the end, then asked for again. */
  final?: boolean;
}

/**
 * Budgets leased from keys' objects, spent by this isolate without calling
 * them. A request takes its cost from a live lease; when the lease is spent
 * or has expired the isolate asks for a new one and gives back what is left.
 * Leases are sized to the isolate's own pace on the key ({@link askSize}), up
 * to the rule's size, so a key it seldom sees holds little of the budget.
 * Bounded in size; an evicted lease's units lapse with its window.
 */
export class LeaseCache {
  private readonly leases = new Map<string, Lease>();
  private readonly paces = new Map<string, Pace>();
  private readonly pending = new Map<string, { readonly promise: Promise<unknown>; readonly since: number }>();

  /**
   * @param maxEntries leases kept at most; the oldest go first
   * @param maxWaitMs longest a request waits for another request's call before asking itself
   * @param waits whether a request may wait for another request's call at all (see `crossRequestWaitsWork`)
   * @param clock what waits and the object calls' timeouts are timed by
   */
  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxWaitMs = 1_000,
    readonly waits = true,
    readonly clock: Clock = systemClock,
  ) {}

  /** Whether a request of this isolate is asking the object for `key` right now. */
  busy(key: string): boolean {
    return this.pending.has(key);
  }

  /**
   * Spends `cost` from the live lease on `key`, or `undefined` when there is
   * none with enough left. The decision shows the object's counts at the
   * grant, with this isolate's unspent units still available.
   */
  take(key: string, now: number, cost: number): KeyDecision | undefined {
    const lease = this.leases.get(key);
    if (!lease || lease.expiresAt <= now || lease.balance < cost) return undefined;
    lease.balance -= cost;
    lease.pace.spent += cost;
    return view(lease);
  }

  /** Whether this isolate holds units of a lease on `key` that it has not spent, live or lapsed. */
  holdsUnspent(key: string): boolean {
    return (this.leases.get(key)?.balance ?? 0) > 0;
  }

  /**
   * Units to ask the object for on `key` at `now`, at most `max`: the first
   * lease on a key is one unit; later ones hold {@link LEASE_HEADROOM} times
   * what this isolate spent on the key per `ttlMs`, measured since its first
   * lease on the key or, once a lease has lapsed, since that lease was
   * granted (and over a quarter of `ttlMs` at least, so a burst of a few
   * requests at once does not read as a flood). A key this isolate seldom
   * sees gets leases of a few units, whose unspent rest is little to strand;
   * a hot key's grow to `max` within a few calls. A lapse tells that the
   * lease outlived the isolate's spending, so the key's pace is measured
   * anew from that lease: one that slows down or goes idle gets small leases
   * at once, and one that pauses briefly keeps its pace.
   */
  askSize(key: string, now: number, max: number, ttlMs: number): number {
    const pace = this.paceAt(key, now);
    if (!pace) return Math.min(max, 1);
    return Math.min(max, Math.max(1, Math.ceil((LEASE_HEADROOM * pace.spent * ttlMs) / measured(pace, now, ttlMs))));
  }

  /**
   * Removes the lease on `key` and says what to give back: its unspent
   * units. A lease that has expired by `now` leaves its own spending as the
   * key's pace (see {@link askSize}).
   */
  surrender(key: string, now: number): LeaseReturn | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    this.paceAt(key, now);
    this.leases.delete(key);
    return lease.balance > 0 ? { units: lease.balance, countedAt: lease.countedAt } : undefined;
  }

  /**
   * Keeps a grant, `spent` units of which go to the request that asked; returns
   * that request's decision. Call it before other requests may spend from
   * the lease, so the asker's units are never taken by them. `now` is when
   * it was granted, for {@link askSize}.
   */
  store(key: string, grant: LeaseGrant, spent: number, decision: KeyDecision, now: number): KeyDecision {
    if (this.leases.size >= this.maxEntries && !this.leases.has(key)) {
      const oldest = this.leases.keys().next().value;
      if (oldest !== undefined) this.leases.delete(oldest);
    }
    const pace = this.paceFor(key, now);
    const lease = {
      balance: Math.max(0, grant.units - spent),
      granted: grant.units,
      pace,
      grantedAt: now,
      spentBefore: pace.spent,
      lifetimeMs: grant.expiresAt - now,
      countedAt: grant.countedAt,
      expiresAt: grant.expiresAt,
      decision,
    };
    pace.spent += spent;
    this.leases.set(key, lease);
    return view(lease);
  }

  /** The pace a new lease on `key` adds its spending to: the key's, or a new one from `now` for a key not seen before. */
  private paceFor(key: string, now: number): Pace {
    const known = this.paceAt(key, now);
    if (known) return known;
    if (this.paces.size >= this.maxEntries) this.paces.delete(this.paces.keys().next().value!);
    const pace = { since: now, spent: 0 };
    this.paces.set(key, pace);
    return pace;
  }

  /**
   * The pace on `key` at `now`. Once its lease has lapsed, it is what that
   * lease spent since it was granted, if the key is back within one lease
   * lifetime (its first grant's) of the lapse; after a longer pause it
   * starts anew from `now`.
   */
  private paceAt(key: string, now: number): Pace | undefined {
    const pace = this.paces.get(key);
    const lease = this.leases.get(key);
    if (!pace || !lease || lease.expiresAt > now || lease.pace !== pace) return pace;
    const resumed = now - lease.expiresAt < lease.lifetimeMs;
    const fresh = resumed ? { since: lease.grantedAt, spent: pace.spent - lease.spentBefore } : { since: now, spent: 0 };
    this.paces.set(key, fresh);
    return fresh;
  }

  /**
   * Whether the live lease on `key` is down to half of its latest grant or
   * less, and this isolate's pace would spend the rest before the lease
   * ends, with no call for `key` in flight: time to {@link topUp} it, so
   * requests keep spending locally while the next units are fetched. A
   * lease the isolate would not spend in time is left to lapse: a top-up
   * would only add units to strand.
   */
  low(key: string, now: number, ttlMs: number): boolean {
    const lease = this.leases.get(key);
    if (lease === undefined || lease.final || lease.expiresAt <= now || lease.balance * 2 > lease.granted || this.pending.has(key))
      return false;
    return (lease.pace.spent * (lease.expiresAt - now)) / measured(lease.pace, now, ttlMs) > lease.balance;
  }

  /** Marks the lease on `key` as topped up for the last time: the object refused to add to it. */
  noMore(key: string): void {
    const lease = this.leases.get(key);
    if (lease) lease.final = true;
  }

  /**
   * Adds a grant fetched by {@link low} to the live lease. Units counted in
   * the same windows as the lease (counted before the lease expires, which
   * is never after its windows end) join it, and the lease lives until the
   * grant expires. A grant counted in later windows replaces the lease: its
   * unspent units lapse with their window.
   */
  topUp(key: string, grant: LeaseGrant, decision: KeyDecision, now: number): void {
    const lease = this.leases.get(key);
    const joins =
      lease !== undefined &&
      lease.countedAt !== 0 &&
      grant.countedAt !== 0 &&
      grant.countedAt >= lease.countedAt &&
      grant.countedAt < lease.expiresAt;
    if (!joins) {
      this.store(key, grant, 0, decision, now);
      return;
    }
    const { pace, grantedAt, spentBefore, lifetimeMs } = lease;
    this.leases.set(key, {
      balance: lease.balance + grant.units,
      granted: grant.units,
      pace,
      grantedAt,
      spentBefore,
      lifetimeMs,
      countedAt: lease.countedAt,
      expiresAt: Math.max(lease.expiresAt, grant.expiresAt),
      decision,
    });
  }

  /**
   * Runs `ask` unless another request of this isolate is already asking for
   * `key`, in which case it waits for that one instead (at most `maxWaitMs`)
   * and resolves to `undefined`, so one key costs one object call at a time.
   * A call older than `maxWaitMs` no longer holds others back.
   */
  async single<T>(key: string, ask: () => Promise<T>): Promise<T | undefined> {
    const inflight = this.pending.get(key);
    const waited = inflight ? this.clock.now() - inflight.since : 0;
    if (inflight && waited < this.maxWaitMs) {
      // workerd cancels, as hung, a request with nothing of its own pending, so
      // waiting on another request's call alone is not enough: a timer of its
      // own keeps the waiter alive, and frees it if that request is gone.
      let timer: unknown;
      const expired = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, this.maxWaitMs - waited)));
      await Promise.race([inflight.promise.catch(() => undefined), expired]);
      if (timer !== undefined) this.clock.clearTimeout(timer);
      return undefined;
    }
    const promise = ask();
    const entry = { promise, since: this.clock.now() };
    this.pending.set(key, entry);
    try {
      return await promise;
    } finally {
      if (this.pending.get(key) === entry) this.pending.delete(key);
    }
  }

  get size(): number {
    return this.leases.size;
  }

  clear(): void {
    this.leases.clear();
    this.paces.clear();
  }
}

/** The time a pace is measured over: since it began, a quarter of `ttlMs` at least. */
function measured(pace: Pace, now: number, ttlMs: number): number {
  return Math.max(now - pace.since, ttlMs / 4);
}

/** The object's decision at the grant, with this isolate's unspent units still available. */
function view(lease: Lease): KeyDecision {
  const left = lease.balance;
  // Written out field by field: this runs for every request a lease admits.
  return {
    allowed: true,
    outcomes: lease.decision.outcomes.map(({ id, shadow, counted, decision: d }) => ({
      id,
      shadow,
      counted,
      decision: {
        allowed: d.allowed,
        limit: d.limit,
        remaining: d.remaining + left,
        used: Math.max(0, d.used - left),
        resetAt: d.resetAt,
        retryAfterMs: d.retryAfterMs,
      },
    })),
  };
}
