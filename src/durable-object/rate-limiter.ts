import { DurableObject } from 'cloudflare:workers';
import type { BanState, KeyDecision, KeyRequest } from '../algorithms/decide';
import { decideKey } from '../algorithms/decide';
import { grantLease, type LeaseAnswer, type LeaseRequest } from '../algorithms/lease';
import { algorithmFor } from '../algorithms/registry';
import type { LimitState } from '../algorithms/types';
import { keyDigester } from '../observability/key-digest';
import type { Charge, KeyLimiter, KeySnapshot, Release } from '../protocol/key-limiter';
import { type PackedDecision, type PackedSpec, packDecision, SpecCache } from '../protocol/wire';
import { LimitRows } from './limit-rows';
import { BAN_PREFIX, banRow, LIMIT_PREFIX, limitRow } from './storage';
import { type EventQueue, ThresholdNotices } from './threshold-notices';

// The records of its calls, for code that imported them from here.
export type { Charge, KeySnapshot, Release } from '../protocol/key-limiter';

/**
 * One object per rate-limit key. A thin adapter: it reads the key's rows,
 * runs the pure {@link decideKey}, and records the result, all synchronously,
 * so no other request to this key can interleave and over-admit. Counts are
 * decided in memory and written through {@link LimitRows}, which lets a hot
 * key skip the write of most requests without ever admitting more than the
 * limit. One alarm does the object's deferred work: it writes a quiet key's
 * exact count over its reservation, and deletes the rows once every window
 * has expired. No timer is ever left pending, so an idle object can hibernate.
 *
 * @example
 * // In your worker's entry module, with a `RATE_LIMITER` binding and a
 * // `new_sqlite_classes = ["RateLimiter"]` migration in wrangler.toml:
 * export { RateLimiter } from 'edge-ratelimit';
 */
export class RateLimiter extends DurableObject implements KeyLimiter {
  /** The alarm time this instance last set; avoids a `setAlarm` (a billed row write) per request. */
  private alarmAt: number | undefined;
  private readonly rows = new LimitRows(this.ctx.storage.kv);
  private readonly specs = new SpecCache();
  private readonly notices = new ThresholdNotices(
    this.ctx.storage.kv,
    this.ctx.id.name,
    (this.env as { NOTIFICATIONS?: EventQueue }).NOTIFICATIONS,
    (p) => this.ctx.waitUntil(p),
    keyDigester(this.env.KEY_DIGEST_SECRET),
  );

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    // An object evicted between visits starts with the alarm it set before, so it does not write a new one.
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt ??= (await ctx.storage.getAlarm()) ?? undefined;
    });
  }

  /**
   * Decides a request against every limit it meets under this key: what
   * {@link checkBatch} does for a batch of one, without a batch's
   * bookkeeping (it is every exact-mode request's call).
   */
  check(request: KeyRequest): KeyDecision {
    const kv = this.ctx.storage.kv;
    const { decision, limitWrites, banWrites } = decideKey(this.readLimit, (rule) => kv.get<BanState>(banRow(rule)), request);
    this.record(request.limits, limitWrites, request.now);
    let expiry = 0;
    for (const [rule, state] of banWrites) {
      kv.put(banRow(rule), state);
      expiry = Math.max(expiry, state.expiresAt);
    }
    this.commit(request.now, expiry);
    return decision;
  }

  /** A limit row's state as this object counts it. */
  private readonly readLimit = (id: string): LimitState | undefined => this.rows.get(limitRow(id))?.state;

  /**
   * {@link check} in the compact form of `./wire`: the key's limits and bans
   * as the string `packSpec` wrote, the answer as a flat array. The same
   * decision, for a fraction of the copying.
   */
  checkPacked(now: number, spec: PackedSpec): PackedDecision {
    const { limits, bans } = this.specs.read(spec);
    return packDecision(this.check({ now, limits, bans }));
  }

  /**
   * Decides several requests one after the other, each seeing the counts
   * the previous ones left, exactly as separate {@link check} calls would;
   * each changed row is written once for the whole batch at most.
   */
  checkBatch(requests: readonly KeyRequest[]): KeyDecision[] {
    const kv = this.ctx.storage.kv;
    // Ban rows are read once per batch, and only for requests whose rules ban.
    let bans: Map<string, BanState | undefined> | undefined;
    let stagedBans: Map<string, BanState> | undefined;
    const currentBan = (row: string) => {
      const staged = stagedBans?.get(row);
      if (staged) return staged;
      bans ??= new Map();
      if (!bans.has(row)) bans.set(row, kv.get<BanState>(row));
      return bans.get(row);
    };
    const readBan = (rule: string) => currentBan(banRow(rule));
    let expiry = 0;
    let now = 0;
    const decisions = requests.map((request) => {
      const { decision, limitWrites, banWrites } = decideKey(this.readLimit, readBan, request);
      this.record(request.limits, limitWrites, request.now);
      for (const [rule, state] of banWrites) {
        (stagedBans ??= new Map()).set(banRow(rule), state);
        expiry = Math.max(expiry, state.expiresAt);
      }
      now = Math.max(now, request.now);
      return decision;
    });
    if (stagedBans) for (const [row, state] of stagedBans) kv.put(row, state);
    this.commit(now, expiry);
    return decisions;
  }

  /**
   * Lends this isolate a budget of up to `request.size` units on every limit
   * at once (see {@link grantLease}), after taking back what its previous
   * lease left unspent. At most one row per limit is written per lease, not per request.
   */
  lease(request: LeaseRequest): LeaseAnswer {
    const { answer, limitWrites } = grantLease(this.readLimit, request);
    this.record(request.limits, limitWrites, request.now);
    this.commit(request.now, 0);
    return answer;
  }

  /** Gives back reservations whose response did not match their `countWhen`. */
  release(now: number, releases: readonly Release[]): void {
    for (const r of releases) {
      const row = limitRow(r.id);
      const stored = this.rows.get(row);
      if (!stored) continue;
      const state = algorithmFor(r.config.algorithm).release(stored.state, now, r.config, r.cost, r.countedAt);
      this.rows.set(row, { state, config: stored.config }, now);
    }
    this.commit(now, 0);
  }

  /**
   * Counts responses a `countResponses` rule counts, once the origin has
   * answered: always counted, even past the limit (the requests already
   * happened), in one synchronous step.
   */
  charge(now: number, charges: readonly Charge[]): void {
    for (const c of charges) {
      const row = limitRow(c.id);
      const step = algorithmFor(c.config.algorithm).consume(this.rows.get(row)?.state, now, c.config, c.cost, true);
      this.rows.set(row, { state: step.state, config: c.config }, now);
    }
    this.commit(now, 0);
  }

  /** The key's live counters and bans, without counting anything. */
  async inspect(now: number): Promise<KeySnapshot> {
    const kv = this.ctx.storage.kv;
    const limits = this.rows.list(LIMIT_PREFIX).map(([row, stored]) => ({
      id: row.slice(LIMIT_PREFIX.length),
      config: stored.config,
      decision: algorithmFor(stored.config.algorithm).peek(stored.state, now, stored.config),
    }));
    const bans = [...kv.list<BanState>({ prefix: BAN_PREFIX })].map(([row, ban]) => ({
      rule: row.slice(BAN_PREFIX.length),
      bannedUntil: ban.bannedUntil,
      violations: ban.violations.current,
    }));
    return { limits, bans, alarmAt: await this.ctx.storage.getAlarm() };
  }

  /** Forgets every counter and ban of this key. */
  async reset(): Promise<void> {
    this.alarmAt = undefined;
    this.rows.clear();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  /** Lifts bans on this key (all rules, or one). Returns how many were lifted. */
  liftBan(rule?: string): number {
    const kv = this.ctx.storage.kv;
    let lifted = 0;
    for (const [row] of [...kv.list<BanState>({ prefix: BAN_PREFIX })]) {
      if (rule === undefined || row === banRow(rule)) lifted += kv.delete(row) ? 1 : 0;
    }
    return lifted;
  }

  /**
   * Deletes expired rows, writes the exact count over a reservation once the
   * key is quiet, and reschedules for what is left (the next settling check
   * or the latest expiry, whichever comes first); or, when nothing is left,
   * drops all storage at once. Idempotent: running twice changes nothing more.
   */
  override async alarm(): Promise<void> {
    const kv = this.ctx.storage.kv;
    const now = Date.now();
    let latest = 0;
    const expiredLimits: string[] = [];
    const expiredBans: string[] = [];
    for (const [row, stored] of this.rows.list(LIMIT_PREFIX)) {
      const expires = algorithmFor(stored.config.algorithm).expiresAt(stored.state, stored.config);
      if (expires <= now) expiredLimits.push(row);
      else latest = Math.max(latest, expires);
    }
    for (const [row, ban] of [...kv.list<BanState>({ prefix: BAN_PREFIX })]) {
      if (ban.expiresAt <= now) expiredBans.push(row);
      else latest = Math.max(latest, ban.expiresAt);
    }
    this.alarmAt = undefined;
    if (latest > 0) {
      for (const row of expiredLimits) this.rows.delete(row);
      for (const row of expiredBans) kv.delete(row);
      this.rows.settleIfQuiet(now);
      this.alarmAt = Math.min(latest, this.rows.settleAt(now) ?? latest);
      await this.ctx.storage.setAlarm(this.alarmAt);
    } else {
      // Nothing left: one deleteAll() drops every row (and the alarm), with no delete or settling write of its own per row.
      this.rows.clear();
      await this.ctx.storage.deleteAll();
    }
  }

  /** Records the states a decision or lease changed, with the configuration each was counted under. */
  private record(limits: KeyRequest['limits'], writes: ReadonlyMap<string, LimitState>, now: number): void {
    for (const limit of limits) {
      const state = writes.get(limit.id);
      if (!state) continue;
      this.notices.observe(limit, state, now);
      this.rows.set(limitRow(limit.id), { state, config: limit.config }, now);
    }
  }

  /**
   * Writes the rows storage no longer covers, then makes sure an alarm is
   * set: once something is stored, and no later than the settling of a
   * reservation. The alarm itself moves on to the latest expiry, so a later
   * expiry needs no new alarm, and a busy key's settling check moves on by
   * itself: a `setAlarm` is written only when none is due soon enough.
   */
  private commit(now: number, expiry: number): void {
    expiry = Math.max(expiry, this.rows.commit(now));
    const settleAt = this.rows.settleAt(Date.now());
    const due =
      this.alarmAt === undefined
        ? expiry > 0
          ? expiry
          : settleAt
        : settleAt !== undefined && settleAt < this.alarmAt
          ? settleAt
          : undefined;
    if (due === undefined) return;
    this.alarmAt = Math.min(due, settleAt ?? due);
    void this.ctx.storage.setAlarm(this.alarmAt);
  }
}
