import type { MaybePromise } from '../engine/maybe';
import { logEvent } from '../observability/log';
import { type CompiledList, compileList, EMPTY_LIST } from '../policy/compile';
import type { ListSettings } from '../policy/schema';
import {
  expired,
  issuesOf,
  LIST_PREFIX,
  type ListTarget,
  type ListValue,
  listValueSchema,
  OVERRIDE_PREFIX,
  type OverrideTarget,
  type OverrideValue,
  parseListKey,
  parseOverrideKey,
  parseOverrideValue,
} from './entries';

export interface OverrideEntry extends OverrideTarget {
  readonly key: string;
  readonly value_: OverrideValue;
}

export interface ListEntry extends ListTarget {
  readonly key: string;
  readonly value_: ListValue;
}

/** A KV entry refused on read: it is ignored, the defaults apply, and the admin API lists it. */
export interface MalformedEntry {
  readonly key: string;
  readonly errors: readonly string[];
}

/** Everything live configuration holds, as one consistent read. */
export interface LiveSnapshot {
  readonly loadedAt: number;
  readonly overrides: readonly OverrideEntry[];
  readonly lists: readonly ListEntry[];
  readonly malformed: readonly MalformedEntry[];
  /** Lists compiled for the request path, entries past their expiry left out. */
  readonly allow: CompiledList;
  readonly block: CompiledList;
  /** When the next list entry expires: the lists are compiled again from then on. */
  readonly listsValidUntil: number;
}

export interface LiveConfigOptions {
  /** How long a snapshot serves before it is read again (KV itself may lag up to 60 s). */
  readonly ttlMs?: number;
  /** The longest a request waits for a read; past it the previous snapshot (or none) applies. */
  readonly timeoutMs?: number;
  /** At most this many entries are read. */
  readonly maxEntries?: number;
}

/**
 * Overrides and list entries from Workers KV, read as a whole (list, then
 * get) at most once per `ttlMs` per isolate, validated entry by entry. The
 * request path never waits longer than `timeoutMs`: a slow or failing KV
 * leaves the last good snapshot, or the policy's defaults, in force.
 */
export class LiveConfig {
  private snapshot: LiveSnapshot | undefined;
  private loading: Promise<LiveSnapshot> | undefined;
  private loadingSince = 0;
  readonly ttlMs: number;
  readonly timeoutMs: number;
  private readonly maxEntries: number;

  constructor(options: LiveConfigOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 50;
    this.maxEntries = options.maxEntries ?? 5_000;
  }

  /**
   * The snapshot for a request: the cached one while fresh. Once it is older
   * than `ttlMs` a new read starts; a snapshot less than two `ttlMs` old keeps
   * serving meanwhile (no request waits for a refresh), and only without a
   * usable snapshot does a request wait for the read, at most `timeoutMs`.
   */
  current(kv: KVNamespace | undefined, now: number, keepAlive?: (read: Promise<unknown>) => void): MaybePromise<LiveSnapshot | undefined> {
    // A snapshot within its cache time is answered at once, without a promise.
    const cached = this.snapshot;
    const age = cached ? now - cached.loadedAt : -1;
    if (kv && cached && age >= 0 && age < this.ttlMs) return atTime(cached, now);
    return this.latest(kv, now, keepAlive).then((snapshot) => snapshot && atTime(snapshot, now));
  }

  /** `keepAlive` receives a read this request starts, so it can finish after the response (`waitUntil`). */
  private async latest(
    kv: KVNamespace | undefined,
    now: number,
    keepAlive?: (read: Promise<unknown>) => void,
  ): Promise<LiveSnapshot | undefined> {
    if (!kv) return undefined;
    const age = this.snapshot ? now - this.snapshot.loadedAt : -1;
    // A clock behind the snapshot's (another request's) counts as stale too.
    if (this.snapshot && age >= 0 && age < this.ttlMs) return this.snapshot;
    // A read that has not finished within a few timeouts is taken as lost (its request may be gone).
    if (!this.loading || Date.now() - this.loadingSince > Math.max(1_000, this.timeoutMs * 4)) {
      this.loadingSince = Date.now();
      const loading: Promise<LiveSnapshot> = this.read(kv, now).then(
        (snapshot) => {
          this.snapshot = snapshot;
          if (this.loading === loading) this.loading = undefined;
          return snapshot;
        },
        (error: unknown) => {
          if (this.loading === loading) this.loading = undefined;
          logEvent('live_config_unavailable', { error: String(error) });
          throw error;
        },
      );
      this.loading = loading;
      const settled = loading.catch(() => undefined);
      // A refresh served from the old snapshot must outlive the request that started it, or the next one starts over.
      keepAlive?.(settled);
    }
    if (this.snapshot && age >= 0 && age < 2 * this.ttlMs) return this.snapshot;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.timeoutMs)));
    try {
      return (await Promise.race([this.loading!.catch(() => undefined), timeout])) ?? this.snapshot;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Reads every entry now, waiting as long as it takes (for the admin API). */
  async load(kv: KVNamespace, now: number): Promise<LiveSnapshot> {
    this.snapshot = await this.read(kv, now);
    return this.snapshot;
  }

  /**
   * Puts a list entry this isolate has just written to KV into its cached
   * snapshot, so it applies here at once rather than after the next read
   * (other isolates see it once KV has propagated and their snapshot is read again).
   */
  remember(entry: ListEntry, now: number): void {
    const snapshot = this.snapshot;
    if (!snapshot) return;
    const lists = [...snapshot.lists.filter((e) => e.key !== entry.key), entry];
    this.snapshot = { ...snapshot, lists, ...compiledLists(lists, now) };
  }

  /** Forgets the cached snapshot, so the next request reads KV again (after the admin API writes). */
  invalidate(): void {
    this.snapshot = undefined;
  }

  private async read(kv: KVNamespace, now: number): Promise<LiveSnapshot> {
    const names: string[] = [];
    for (const prefix of [OVERRIDE_PREFIX, LIST_PREFIX]) {
      let cursor: string | undefined;
      do {
        const page: KVNamespaceListResult<unknown> = await kv.list({ prefix, ...(cursor ? { cursor } : {}) });
        for (const k of page.keys) if (names.length < this.maxEntries) names.push(k.name);
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor && names.length < this.maxEntries);
    }
    const values = await Promise.all(names.map(async (name) => [name, await kv.get(name, 'text')] as const));
    const overrides: OverrideEntry[] = [];
    const lists: ListEntry[] = [];
    const malformed: MalformedEntry[] = [];
    for (const [key, text] of values) {
      if (text === null) continue;
      const refuse = (errors: string[]) => {
        malformed.push({ key, errors });
        logEvent('malformed_config', { key, errors });
      };
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        refuse(['(value): not JSON']);
        continue;
      }
      if (key.startsWith(OVERRIDE_PREFIX)) {
        const target = parseOverrideKey(key);
        if ('error' in target) {
          refuse([`(key): ${target.error}`]);
          continue;
        }
        const parsed = parseOverrideValue(json);
        if (!parsed.success) refuse(issuesOf(parsed.error));
        else overrides.push({ ...target, key, value_: parsed.data });
      } else {
        const target = parseListKey(key);
        if ('error' in target) {
          refuse([`(key): ${target.error}`]);
          continue;
        }
        const parsed = listValueSchema.safeParse(json);
        if (!parsed.success) refuse(issuesOf(parsed.error));
        else lists.push({ ...target, key, value_: parsed.data });
      }
    }
    return { loadedAt: now, overrides, lists, malformed, ...compiledLists(lists, now) };
  }
}

/** The allow and block lists as of `now`, and when the first of their entries expires. */
/** The snapshot as it stands at `now`: an entry that expires (a ban's blocked address) stops applying then, not at the next read. */
function atTime(snapshot: LiveSnapshot, now: number): LiveSnapshot {
  return now >= snapshot.listsValidUntil ? { ...snapshot, ...compiledLists(snapshot.lists, now) } : snapshot;
}

function compiledLists(lists: readonly ListEntry[], now: number): Pick<LiveSnapshot, 'allow' | 'block' | 'listsValidUntil'> {
  const expiries = lists.map((e) => (e.value_.expires === undefined ? Infinity : Date.parse(e.value_.expires))).filter((t) => t > now);
  return { allow: listOf(lists, 'allow', now), block: listOf(lists, 'block', now), listsValidUntil: Math.min(Infinity, ...expiries) };
}

function listOf(entries: readonly ListEntry[], list: 'allow' | 'block', now: number): CompiledList {
  const live = entries.filter((e) => e.list === list && !expired(e.value_, now));
  if (live.length === 0) return EMPTY_LIST;
  const settings: ListSettings = {
    ips: live.filter((e) => e.kind === 'ip').map((e) => e.value),
    countries: live.filter((e) => e.kind === 'country').map((e) => e.value),
    asns: live.filter((e) => e.kind === 'asn').map((e) => Number(e.value)),
    credentials: live.filter((e) => e.kind === 'credential').map((e) => e.value),
  };
  return compileList(settings);
}
