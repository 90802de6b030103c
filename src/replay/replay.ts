import { holdsSlots } from '../algorithms/concurrency';
import { type BanRequest, type BanState, decideKey, type KeyTransition, type LimitRequest } from '../algorithms/decide';
import { algorithmFor } from '../algorithms/registry';
import type { LimitState } from '../algorithms/types';
import { bansOf, limitRequestOf } from '../engine/key-request';
import { type CompiledLimit, type CompiledPolicy, type CompiledRule, compilePolicy } from '../policy/compile';
import type { Policy } from '../policy/schema';
import type { TrafficRecord } from '../traffic/record';

/** What replay found for one limit of one rule of the candidate policy. */
export interface LimitReport {
  readonly rule: string;
  /** The limit's name, as headers show it (`1m`, `burst`). */
  readonly limit: string;
  readonly max: number;
  readonly windowMs: number;
  readonly shadow: boolean;
  /** Requests the limit would have refused (in shadow mode: reported as refused, admitted). */
  readonly refused: number;
  /** Distinct keys it would have refused at least once. */
  readonly keysRefused: number;
  /** The keys it would have refused most, most first (digests as the record holds them). */
  readonly topKeys: ReadonlyArray<{ readonly key: string; readonly refused: number }>;
  /** The highest use seen against the limit, as a share of it (1 = the limit reached), and when. */
  readonly peakUse: number;
  readonly peakAt: number;
  /** Refusals per time bucket (`bucketMs` wide, starting at `ReplayReport.from`). */
  readonly timeline: readonly number[];
}

/** The candidate rule against what the live policy decided, request by request. */
export interface RuleReport {
  readonly rule: string;
  /** Requests the rule applied to. */
  readonly matched: number;
  /** Requests it matched whose record holds no key of the rule's signature (the live policy keyed nothing that way): not decided. */
  readonly unkeyed: number;
  /** Requests the rule would refuse (any enforced limit). */
  readonly refused: number;
  /** Of those, requests the live rule of the same name did not refuse (or no live rule applied). */
  readonly newlyRefused: number;
  /** Requests the live rule of the same name refused that the candidate rule admits. */
  readonly noLongerRefused: number;
}

export interface ReplayReport {
  readonly policy: string;
  readonly records: number;
  /** Records earlier than the one before them (replayed at their own time anyway). */
  readonly outOfOrder: number;
  /** Records written with a sample rate below 1 (their cost is scaled up, so counts are estimates). */
  readonly sampled: number;
  readonly from: number;
  readonly to: number;
  readonly bucketMs: number;
  /** Requests the candidate policy would refuse, and those the live limiter refused. */
  readonly refused: number;
  readonly liveRefused: number;
  /** Requests refused by the candidate and admitted live, and the other way round. */
  readonly newlyRefused: number;
  readonly noLongerRefused: number;
  readonly rules: readonly RuleReport[];
  readonly limits: readonly LimitReport[];
}

export interface ReplayOptions {
  /** Width of the timeline's buckets; one hour by default. */
  readonly bucketMs?: number;
  /** How many of the most refused keys each limit reports; 10 by default. */
  readonly topKeys?: number;
}

interface LimitStats {
  readonly rule: CompiledRule;
  readonly limit: CompiledLimit;
  refused: number;
  readonly byKey: Map<string, number>;
  peakUse: number;
  peakAt: number;
  readonly timeline: number[];
}

interface RuleStats {
  matched: number;
  unkeyed: number;
  refused: number;
  newlyRefused: number;
  noLongerRefused: number;
}

/** A key's stored counters and bans, as its Durable Object would hold them. */
interface KeyState {
  readonly limits: Map<string, LimitState>;
  readonly bans: Map<string, BanState>;
}

/** One key's share of a request: the rules under it and its limits, as `decideGroups` asks the key's object. */
interface Entry {
  readonly rule: CompiledRule;
  readonly limit: CompiledLimit;
  readonly cost: number;
  readonly stats: LimitStats;
}

interface Group {
  readonly signature: string;
  readonly digest: string;
  readonly rules: CompiledRule[];
  readonly entries: Entry[];
  /** Rule indexes and costs, naming the group's shape: groups of one shape ask their object the same way. */
  shape: string;
}

/** What a key's object is asked for groups of one shape: prepared once, since few shapes recur millions of times. */
interface Prepared {
  readonly limits: readonly LimitRequest[];
  readonly bans: readonly BanRequest[];
}

function costOf(rule: CompiledRule, record: TrafficRecord): number {
  const cost = rule.rule.cost;
  const units = typeof cost === 'number' ? cost : Math.min(record.costs?.[cost.header.toLowerCase()] ?? cost.default, cost.max);
  return record.sampleRate === 1 ? units : Math.round(units / record.sampleRate);
}

/**
 * Replays recorded traffic against a candidate policy: its rules match each
 * record's method, host, path and tier with the limiter's own matcher, and
 * each key's limits are decided by the limiter's own `decideKey`, on the
 * records' clock, in exact mode (every request reaches its key's object; the
 * isolate caches and leases never admit more than that). A refused request
 * gives back what its other keys counted, as the request path does. A rule
 * with `smooth` admits every request whose wait fits its `maxWait`: the
 * per-isolate bound on waiting requests (`maxQueued`) is not modelled, so
 * a replay may admit more held requests than a busy live isolate would.
 *
 * Records carry keys as digests by key signature, so a candidate rule can be
 * replayed when the live policy keyed some rule the same way (`ip`, `bearer`,
 * `ip+method`…); requests without such a key are reported as unkeyed.
 *
 * @example
 * const replay = new Replay(parsePolicy(candidate));
 * for (const line of lines) replay.add(parseTrafficRecord(JSON.parse(line)));
 * replay.report().limits; // refusals, top keys and peak use per rule and limit
 */
export class Replay {
  private readonly compiled: CompiledPolicy;
  /** Each key's state, by key signature, then digest. */
  private readonly keys = new Map<string, Map<string, KeyState>>();
  private readonly limitStats: LimitStats[] = [];
  private readonly statsById = new Map<string, LimitStats>();
  private readonly ruleStats = new Map<string, RuleStats>();
  private readonly prepared = new Map<string, Prepared>();
  private readonly bucketMs: number;
  private readonly topKeys: number;
  private records = 0;
  private outOfOrder = 0;
  private sampled = 0;
  private from = Number.NaN;
  private last = Number.NEGATIVE_INFINITY;
  private to = Number.NEGATIVE_INFINITY;
  private refused = 0;
  private liveRefused = 0;
  private newlyRefused = 0;
  private noLongerRefused = 0;

  constructor(
    private readonly policy: Policy,
    options: ReplayOptions = {},
  ) {
    this.compiled = compilePolicy(policy);
    this.bucketMs = options.bucketMs ?? 3_600_000;
    this.topKeys = options.topKeys ?? 10;
    for (const rule of this.compiled.rules) {
      this.ruleStats.set(rule.name, { matched: 0, unkeyed: 0, refused: 0, newlyRefused: 0, noLongerRefused: 0 });
      for (const limit of rule.limits) {
        const stats: LimitStats = { rule, limit, refused: 0, byKey: new Map(), peakUse: 0, peakAt: 0, timeline: [] };
        this.limitStats.push(stats);
        this.statsById.set(limit.id, stats);
      }
    }
  }

  /** Decides one recorded request under the candidate policy and counts what it would have done. */
  add(record: TrafficRecord): void {
    const now = record.time;
    this.records++;
    if (Number.isNaN(this.from)) this.from = now;
    if (now < this.last) this.outOfOrder++;
    this.last = now;
    if (now > this.to) this.to = now;
    if (now < this.from) this.from = now;
    if (record.sampleRate !== 1) this.sampled++;
    const liveRefused = record.decision !== 'allow';
    if (liveRefused) this.liveRefused++;

    const groups: Group[] = [];
    for (const rule of this.compiled.rules) {
      if (!rule.matches(record)) continue;
      const ruleStats = this.ruleStats.get(rule.name)!;
      ruleStats.matched++;
      const digest = record.keys[rule.keySignature];
      if (digest === undefined) {
        ruleStats.unkeyed++;
        continue;
      }
      const signature = rule.keySignature;
      let group: Group | undefined;
      for (const g of groups) if (g.digest === digest && g.signature === signature) group = g;
      const cost = costOf(rule, record);
      if (!group) groups.push((group = { signature, digest, rules: [], entries: [], shape: '' }));
      group.rules.push(rule);
      group.shape += `${rule.index}:${cost},`;
      for (const limit of rule.limits) group.entries.push({ rule, limit, cost, stats: this.statsById.get(limit.id)! });
    }

    let refused = false;
    const steps: Array<{ group: Group; state: KeyState; step: KeyTransition }> = [];
    for (const group of groups) {
      let byDigest = this.keys.get(group.signature);
      if (!byDigest) this.keys.set(group.signature, (byDigest = new Map()));
      let state = byDigest.get(group.digest);
      if (!state) byDigest.set(group.digest, (state = { limits: new Map(), bans: new Map() }));
      const { limits, bans } = state;
      let prepared = this.prepared.get(group.shape);
      if (!prepared)
        this.prepared.set(
          group.shape,
          (prepared = { limits: group.entries.map((e) => limitRequestOf(e, true)), bans: bansOf(group.rules) }),
        );
      const step = decideKey(
        (id) => limits.get(id),
        (rule) => bans.get(rule),
        { now, limits: prepared.limits, bans: prepared.bans },
      );
      if (!step.decision.allowed) refused = true;
      steps.push({ group, state, step });
    }

    const refusedRules = new Set<string>();
    for (const { group, state, step } of steps) {
      for (const [id, s] of step.limitWrites) state.limits.set(id, s);
      for (const [rule, s] of step.banWrites) state.bans.set(rule, s);
      if (step.decision.banned) refusedRules.add(step.decision.banned.rule);
      const { outcomes } = step.decision;
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i]!;
        const entry = group.entries[i]!;
        const { stats } = entry;
        const decision = outcome.decision;
        // A request refused elsewhere is given back here: the use it reported was never kept.
        const kept = !refused || outcome.shadow || !decision.allowed;
        const use = decision.limit > 0 ? decision.used / decision.limit : decision.used > 0 ? Number.POSITIVE_INFINITY : 0;
        if (kept && use > stats.peakUse) {
          stats.peakUse = use;
          stats.peakAt = now;
        }
        if (!decision.allowed) {
          stats.refused++;
          stats.byKey.set(group.digest, (stats.byKey.get(group.digest) ?? 0) + 1);
          const bucket = Math.floor((now - this.from) / this.bucketMs);
          if (bucket >= 0) stats.timeline[bucket] = (stats.timeline[bucket] ?? 0) + 1;
          if (!outcome.shadow) refusedRules.add(entry.rule.name);
        }
        this.settle(entry, outcome.counted, outcome.shadow, state, now, refused, step.decision.allowed, record, liveRefused);
      }
    }

    for (const rule of this.compiled.rules) {
      const live = record.rules[rule.name];
      const ruleStats = this.ruleStats.get(rule.name)!;
      const candidate = refusedRules.has(rule.name);
      if (candidate) ruleStats.refused++;
      if (candidate && live !== 'r') ruleStats.newlyRefused++;
      if (!candidate && live === 'r') ruleStats.noLongerRefused++;
    }
    if (refused) this.refused++;
    if (refused && !liveRefused) this.newlyRefused++;
    if (!refused && liveRefused) this.noLongerRefused++;
  }

  /**
   * What the request path does once the outcome is known. A refused request
   * gives back what its admitting keys counted (except shadow limits and
   * rules counting refusals); an admitted one gives back `countWhen`
   * reservations its status does not match and charges `countResponses`
   * rules whose status it matches. A request the live limiter refused has no
   * origin status: its reservations are kept and nothing is charged.
   */
  private settle(
    entry: Entry,
    counted: boolean,
    shadow: boolean,
    state: KeyState,
    now: number,
    refused: boolean,
    keyAllowed: boolean,
    record: TrafficRecord,
    liveRefused: boolean,
  ): void {
    const { limit } = entry;
    const algorithm = algorithmFor(limit.config.algorithm);
    const giveBack = () => {
      const stored = state.limits.get(limit.id);
      if (stored) state.limits.set(limit.id, algorithm.release(stored, now, limit.config, entry.cost, now));
    };
    // The record tells no response's duration: a concurrency slot is given back at once, so a replay
    // shows a concurrency limit refusing only requests that arrive together, not ones that overlap.
    if (counted && holdsSlots(limit.config)) {
      giveBack();
      return;
    }
    if (refused) {
      if (keyAllowed && counted && !shadow && (limit.countWhen || !entry.rule.rule.countRefused)) giveBack();
      return;
    }
    if (liveRefused) return;
    if (counted && limit.countWhen && !limit.countWhen(record.status)) giveBack();
    if (limit.countResponses && limit.countResponses(record.status)) {
      state.limits.set(limit.id, algorithm.consume(state.limits.get(limit.id), now, limit.config, entry.cost, true).state);
    }
  }

  /** What the replay found so far. */
  report(): ReplayReport {
    const span = Number.isNaN(this.from) ? 0 : this.to - this.from;
    const buckets = Math.floor(span / this.bucketMs) + 1;
    return {
      policy: this.policy.name,
      records: this.records,
      outOfOrder: this.outOfOrder,
      sampled: this.sampled,
      from: Number.isNaN(this.from) ? 0 : this.from,
      to: Number.isNaN(this.from) ? 0 : this.to,
      bucketMs: this.bucketMs,
      refused: this.refused,
      liveRefused: this.liveRefused,
      newlyRefused: this.newlyRefused,
      noLongerRefused: this.noLongerRefused,
      rules: this.compiled.rules.map((rule) => ({ rule: rule.name, ...this.ruleStats.get(rule.name)! })),
      limits: this.limitStats.map((s) => ({
        rule: s.rule.name,
        limit: s.limit.name,
        max: s.limit.config.limit,
        windowMs: s.limit.config.windowMs,
        shadow: s.rule.rule.shadow,
        refused: s.refused,
        keysRefused: s.byKey.size,
        topKeys: [...s.byKey]
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
          .slice(0, this.topKeys)
          .map(([key, refused]) => ({ key, refused })),
        peakUse: s.peakUse,
        peakAt: s.peakAt,
        timeline: Array.from({ length: buckets }, (_, i) => s.timeline[i] ?? 0),
      })),
    };
  }
}
