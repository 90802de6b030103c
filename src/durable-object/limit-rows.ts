import { algorithmFor } from '../algorithms/registry';
import { reserve, reserveUnits, type SpentReservation } from '../algorithms/reserve';
import type { LimitConfig, LimitState } from '../algorithms/types';
import type { StoredLimit } from './storage';

/**
 * How long a key with a reservation in storage stays quiet before its exact
 * count is written (ms), and how long after a reservation its object first
 * checks for that (then ever less often while the key stays busy). The check is a storage alarm, not a timer: a pending timer
 * keeps a Durable Object in memory, billed for its duration, from
 * compatibility date 2026-10-01, while a pending alarm lets it hibernate.
 * An object evicted before its alarm keeps the reservation storage holds:
 * it refuses early by at most that reservation, never admits more.
 */
export const SETTLE_MS = 8000;
/**
 * A key found busy at a settling check is checked again later each time,
 * up to this many times {@link SETTLE_MS} apart (128 s): a check costs an
 * alarm run and a `setAlarm`, so a key in steady use pays one about every
 * two minutes. A key that goes quiet after that long is usually evicted
 * before its check (an idle object goes after about 10 s) and keeps its
 * reservation, which is at most 1 % of the limit.
 */
export const SETTLE_BACKOFF_MAX = 16;
/**
 * A row changed again within this many ms of its last change is busy: its
 * writes reserve ahead. A busy key pays settling checks (an alarm run and a
 * `setAlarm`, billed as a row written, each) instead of a write per request;
 * a key that comes back more slowly pays a check for every request or two,
 * more than the write, and an object idle for about 10 s is evicted between
 * visits anyway, losing what it counted in memory. So a key that comes back
 * later than this writes its exact count each time.
 */
export const HOT_MS = 6000;

interface Row {
  /** The count this object decides on. */
  live: StoredLimit;
  /** What storage holds: equal to `live`, or a reservation that covers it. */
  stored: StoredLimit | undefined;
  /** The request time of the change before the last one, and of the last one. */
  changedBefore: number;
  changedAt: number;
  /** The reservation storage holds, if any: its units, when it was written and in which window. */
  reserved?: { readonly units: number; readonly at: number; readonly windowStart: number } | undefined;
}

/**
 * The limit rows of one key's object, held in memory and written through to
 * its synchronous storage only when storage no longer covers them.
 *
 * The object is the only writer of its rows and decides on the copy in
 * memory. A write of a hot row stores the count with units reserved ahead
 * ({@link reserveUnits}: about ten seconds of the key's traffic, at the pace it
 * spent the previous reservation, within 1 % of the limit), so the requests
 * those units cover cost no write. Storage always holds a count at least as
 * restrictive as the one in memory: an object that restarts resumes from it
 * and can refuse early by at most the reservation, never admit more. The
 * exact count is written by {@link settleIfQuiet}, which the object's alarm
 * runs once the key has been quiet for {@link SETTLE_MS} ({@link settleAt}
 * says when); a key that stays busy keeps its reservation until it goes quiet.
 */
export class LimitRows {
  private readonly rows = new Map<string, Row>();
  private readonly dirty = new Set<string>();
  /** Wall-clock time of the last change, for settling. */
  private lastChange = 0;
  /** How many settling checks in a row found the key busy. */
  private busyChecks = 0;

  constructor(private readonly kv: SyncKvStorage) {}

  /** The row's state as this object counts it. */
  get(row: string): StoredLimit | undefined {
    return this.load(row)?.live;
  }

  /** Changes the row in memory, for a request at `now`; {@link commit} writes what storage no longer covers. */
  set(row: string, live: StoredLimit, now: number): void {
    const loaded = this.load(row);
    if (loaded) {
      loaded.live = live;
      loaded.changedBefore = loaded.changedAt;
      loaded.changedAt = now;
    } else {
      this.rows.set(row, { live, stored: undefined, changedBefore: Number.NEGATIVE_INFINITY, changedAt: now });
    }
    this.dirty.add(row);
    this.lastChange = Date.now();
  }

  /**
   * Writes every row changed since the last commit whose stored state no
   * longer covers it; returns the latest expiry written (0 for none).
   */
  commit(now: number): number {
    let expiry = 0;
    for (const name of this.dirty) {
      const row = this.rows.get(name)!;
      const { live, stored } = row;
      const algorithm = algorithmFor(live.config.algorithm);
      if (stored && sameConfig(stored.config, live.config) && algorithm.covers(stored.state, live.state)) continue;
      const units = row.changedAt - row.changedBefore < HOT_MS ? reserveUnits(live.config, spentReservation(row, now)) : 0;
      const state = units > 0 ? reserve(live.state, now, live.config, units) : live.state;
      row.stored = { state, config: live.config };
      row.reserved = state !== live.state ? { units, at: now, windowStart: live.state.windowStart } : undefined;
      this.kv.put<StoredLimit>(name, row.stored);
      expiry = Math.max(expiry, algorithm.expiresAt(state, live.config));
    }
    this.dirty.clear();
    return expiry;
  }

  /**
   * When the rows in memory should next be settled (wall-clock ms): once
   * the key has been quiet for {@link SETTLE_MS} after its last change, but
   * no sooner than {@link SETTLE_MS} after `now`, twice as long after each
   * check that found the key busy (up to {@link SETTLE_BACKOFF_MAX} times).
   * `undefined` when storage holds every row's exact count.
   */
  settleAt(now: number): number | undefined {
    for (const row of this.rows.values())
      if (!exact(row)) return Math.max(this.lastChange, now) + SETTLE_MS * Math.min(2 ** this.busyChecks, SETTLE_BACKOFF_MAX);
    return undefined;
  }

  /**
   * Writes the exact count of every row whose storage holds a reservation,
   * if the key has been quiet for {@link SETTLE_MS} at wall-clock `now`.
   * Idempotent: a second run writes nothing.
   */
  settleIfQuiet(now: number): void {
    if (now - this.lastChange >= SETTLE_MS) {
      this.settle();
      this.busyChecks = 0;
    } else this.busyChecks++;
  }

  /** Writes the exact count of every row whose storage holds a reservation. */
  settle(): void {
    for (const [name, row] of this.rows) {
      if (exact(row)) continue;
      row.stored = row.live;
      row.reserved = undefined;
      this.kv.put<StoredLimit>(name, row.live);
    }
  }

  /** Forgets a row in memory and in storage. */
  delete(row: string): void {
    this.rows.delete(row);
    this.dirty.delete(row);
    this.kv.delete(row);
  }

  /** Forgets every row in memory (storage is the caller's to clear). */
  clear(): void {
    this.rows.clear();
    this.dirty.clear();
  }

  /** Every row of this key, as this object counts it. */
  list(prefix: string): Array<[string, StoredLimit]> {
    const names = new Set([...this.kv.list<StoredLimit>({ prefix })].map(([name]) => name));
    for (const name of this.rows.keys()) if (name.startsWith(prefix)) names.add(name);
    return [...names].sort().flatMap((name) => {
      const live = this.get(name);
      return live ? [[name, live] as [string, StoredLimit]] : [];
    });
  }

  private load(row: string): Row | undefined {
    const known = this.rows.get(row);
    if (known) return known;
    const stored = this.kv.get<StoredLimit>(row);
    if (!stored) return undefined;
    const loaded = { live: stored, stored, changedBefore: Number.NEGATIVE_INFINITY, changedAt: Number.NEGATIVE_INFINITY };
    this.rows.set(row, loaded);
    return loaded;
  }
}

/**
 * The reservation a row's write replaces and how long it lasted, when the
 * key spent it in the window it was made for (a new window says nothing of
 * the pace); otherwise `undefined`, and the next reservation is the base one.
 */
function spentReservation(row: Row, now: number): SpentReservation | undefined {
  const previous = row.reserved;
  if (!previous || previous.windowStart !== row.live.state.windowStart) return undefined;
  if (row.stored && !sameConfig(row.stored.config, row.live.config)) return undefined;
  return { units: previous.units, lastedMs: now - previous.at };
}

/** Whether storage holds exactly the row's count (no reservation, nothing unwritten). */
function exact(row: Row): boolean {
  return row.stored !== undefined && sameState(row.stored.state, row.live.state) && sameConfig(row.stored.config, row.live.config);
}

function sameState(a: LimitState, b: LimitState): boolean {
  return (
    a.windowStart === b.windowStart &&
    a.current === b.current &&
    a.previous === b.previous &&
    a.tat === b.tat &&
    a.heldMs === b.heldMs &&
    sameSlots(a.slots, b.slots)
  );
}

function sameSlots(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((slot, i) => slot === b[i]);
}

function sameConfig(a: LimitConfig, b: LimitConfig): boolean {
  return a.algorithm === b.algorithm && a.windowMs === b.windowMs && a.limit === b.limit && a.burst === b.burst;
}
