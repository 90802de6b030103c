import type { BanRequest, KeyDecision, KeyRequest, LimitRequest } from '../algorithms/decide';
import { leasable, type LeaseAnswer, type LeaseRequest } from '../algorithms/lease';
import type { LimitDecision } from '../algorithms/types';
import type { KeySnapshot, Release } from '../durable-object/rate-limiter';
import { packSpec, unpackDecision, type PackedDecision, type PackedSpec } from '../durable-object/wire';
import { ANONYMOUS, resolveIdentity, type Identity } from '../identity/resolve';
import { logEvent } from '../observability/log';
import type { AnalyticsSink, Metrics } from '../observability/metrics';
import type { RepeatFolder } from '../observability/repeat-folder';
import type { CompiledLimit, CompiledList, CompiledPolicy, CompiledRule, ListFacts } from '../policy/compile';
import { formatDuration } from '../policy/duration';
import type { OnError, Rule } from '../policy/schema';
import { ipKey } from '../request/client-ip';
import type { CheckBatcher } from './check-batcher';
import type { DenyCache } from './deny-cache';
import type { LeaseCache } from './lease-cache';
import { hashMemo, keyValue, viewOf, type RequestView } from './request-facts';
import { after, allOf, isPending, type MaybePromise } from './maybe';
import { withTimeout } from './with-timeout';

/** The part of a key's Durable Object the request path calls. */
export interface KeyLimiter {
  check(request: Parameters<import('../durable-object/rate-limiter').RateLimiter['check']>[0]): Promise<KeyDecision> | KeyDecision;
  /** `check` in the compact form of `durable-object/wire`, where the object has it. */
  checkPacked?(now: number, spec: PackedSpec): Promise<PackedDecision> | PackedDecision;
  release(now: number, releases: readonly Release[]): Promise<void> | void;
  lease?(request: LeaseRequest): Promise<LeaseAnswer> | LeaseAnswer;
  checkBatch?(requests: readonly KeyRequest[]): Promise<KeyDecision[]> | KeyDecision[];
  inspect?(now: number): Promise<KeySnapshot> | KeySnapshot;
}

/** Limits in force for one rule and key after overrides: replaced limits, or exempt. */
export type LimitOverride = { readonly exempt: true } | { readonly exempt: false; readonly limits: readonly CompiledLimit[] };

/** Looks up live overrides (Workers KV) for a rule and its key value; `undefined` keeps the policy's limits. */
export interface OverrideSource {
  lookup(rule: CompiledRule, keyValue: string, identity: Identity, now: number): MaybePromise<LimitOverride | undefined>;
}

/** Allow and block lists changed at runtime (Workers KV), consulted besides the policy's own. */
export interface ListSource {
  current(now: number): MaybePromise<{ allow: CompiledList; block: CompiledList } | undefined>;
  /** Puts an address (or IPv6 prefix) on the block list until `until` (bans with `blockAddress`). */
  blockAddress?(address: string, until: number, reason: string, now: number): Promise<void>;
}

export interface LimiterDeps {
  readonly compiled: CompiledPolicy;
  /** The stub of the object for a key name. */
  readonly limiterFor: (name: string) => KeyLimiter;
  readonly kv?: KVNamespace | undefined;
  readonly secrets: Record<string, unknown>;
  readonly denyCache: DenyCache;
  /** Budgets leased from hot keys' objects (rules with `lease`); without it every request asks the object. */
  readonly leases?: LeaseCache | undefined;
  /** Coalesces concurrent calls to one key's object; without it each request makes its own call. */
  readonly batcher?: CheckBatcher | undefined;
  readonly metrics: Metrics;
  readonly analytics?: AnalyticsSink | undefined;
  /** Folds log lines of refusals answered in the isolate; without it each writes its own line. */
  readonly repeats?: RepeatFolder | undefined;
  readonly overrides?: OverrideSource | undefined;
  readonly lists?: ListSource | undefined;
}

/** One limit's answer, with the rule it belongs to. */
export interface LimitResult {
  readonly rule: CompiledRule;
  readonly limit: CompiledLimit;
  readonly decision: LimitDecision;
  readonly shadow: boolean;
}

export type VerdictKind = 'allow' | 'limit' | 'block' | 'ban' | 'unavailable';

/** The limiter's answer for one request. */
export interface Verdict {
  readonly kind: VerdictKind;
  /** Every limit asked, for the rate-limit headers. */
  readonly results: readonly LimitResult[];
  /** The rule whose limit refused (or whose ban applies). */
  readonly refusedBy?: CompiledRule;
  /** Milliseconds until the request could be admitted; 0 when allowed. */
  readonly retryAfterMs: number;
  /** HTTP status of a refusal. */
  readonly status: number;
  readonly view: RequestView;
  /**
   * Settles reservations of limits counted by outcome once the origin has
   * answered (a status) or failed (`'error'`). Resolves when released.
   */
  settle(outcome: number | 'error'): Promise<void>;
  /**
   * Work to finish after the response, if any: a ban's address written to
   * the block list, the next units of a lease running low. It never rejects.
   */
  readonly background?: Promise<void>;
}

/** Rules that apply under one key value: its object decides all their limits in one call. */
export interface Group {
  /** The key's object name: `<key signature>=<key value>`. */
  readonly name: string;
  readonly rules: CompiledRule[];
  readonly limits: Array<{ rule: CompiledRule; limit: CompiledLimit; cost: number }>;
}

/** The `settle` of a verdict with no reservation to keep or give back. */
export const NOTHING_TO_SETTLE = async (): Promise<void> => {};

function costOf(rule: CompiledRule, headers: Headers): number {
  const cost = rule.rule.cost;
  if (typeof cost === 'number') return cost;
  const raw = headers.get(cost.header);
  const n = raw === null ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, cost.max) : cost.default;
}

/** The strictest fault setting among rules sharing a key: closed wins, the shortest timeout wins. */
function groupOnError(rules: readonly CompiledRule[]): OnError {
  return {
    mode: rules.some((r) => r.onError.mode === 'closed') ? 'closed' : 'open',
    timeoutMs: Math.min(...rules.map((r) => r.onError.timeoutMs)),
  };
}

function toRequest(entry: Group['limits'][number]): LimitRequest {
  return { id: entry.limit.id, config: entry.limit.config, cost: entry.cost, countRefused: entry.rule.rule.countRefused, shadow: entry.rule.rule.shadow };
}

function bansOf(rules: readonly CompiledRule[]): BanRequest[] {
  return rules.flatMap((r) => (r.rule.ban ? [{ rule: r.name, after: r.rule.ban.after, withinMs: r.rule.ban.within, durationMs: r.rule.ban.duration }] : []));
}

/**
 * Decides a request against the policy: lists first, then every matching
 * rule. Rules are grouped by key value, each key's object is asked once, and
 * different keys are asked in parallel. A key that fails or times out
 * follows its rules' fail-open / fail-closed setting.
 */
export function evaluate(request: Request, deps: LimiterDeps, now: number): MaybePromise<Verdict> {
  const policy = deps.compiled.policy;
  if (!policy.identity) return evaluateAs(request, ANONYMOUS, deps, now);
  return resolveIdentity(request.headers, policy.identity, { kv: deps.kv, secrets: deps.secrets }, now).then((identity) => evaluateAs(request, identity, deps, now));
}

/** {@link evaluate} once the caller's identity is known: lists first, then the rules. */
function evaluateAs(request: Request, identity: Identity, deps: LimiterDeps, now: number): MaybePromise<Verdict> {
  const view = viewOf(request, deps.compiled.policy, identity);
  if (!hasLists(deps)) return limitsFor(request, view, deps, now);
  return after(listedAs(view, deps, now), (listed) => (listed === 'allow' ? unlimited(view) : listed === 'block' ? blockedVerdict(view, deps) : limitsFor(request, view, deps, now)));
}

/** A matching rule and its key's value for the request (`undefined`: the key's part is absent, the rule does not apply). */
interface Keyed<V = string> {
  readonly rule: CompiledRule;
  readonly value: V;
}

/** The rules the request matches, each under its key's value; credentials in keys are hashed first. */
function limitsFor(request: Request, view: RequestView, deps: LimiterDeps, now: number): MaybePromise<Verdict> {
  const { compiled } = deps;
  const hash = hashMemo();
  const keyed: Array<Keyed<MaybePromise<string | undefined>>> = [];
  let hashing = false;
  for (const rule of compiled.rules) {
    if (!rule.matches(view)) continue;
    const value = keyValue(rule.rule.key, view, compiled.policy, hash);
    hashing ||= isPending(value);
    keyed.push({ rule, value });
  }
  if (keyed.length === 0) return unlimited(view);
  if (!hashing) return withOverrides(request, view, keyed as Array<Keyed<string | undefined>>, deps, now);
  return Promise.all(keyed.map(async ({ rule, value }) => ({ rule, value: await value }))).then((known) => withOverrides(request, view, known, deps, now));
}

/** Live overrides (Workers KV) of each keyed rule, then the decision. */
function withOverrides(request: Request, view: RequestView, keyed: ReadonlyArray<Keyed<string | undefined>>, deps: LimiterDeps, now: number): MaybePromise<Verdict> {
  const present = (keyed.every((k) => k.value !== undefined) ? keyed : keyed.filter((k) => k.value !== undefined)) as ReadonlyArray<Keyed>;
  if (present.length === 0) return unlimited(view);
  const source = deps.overrides;
  if (!source) return decideKeyed(request, view, present, undefined, deps, now);
  return after(allOf(present.map(({ rule, value }) => source.lookup(rule, value, view.identity, now))), (overrides) => decideKeyed(request, view, present, overrides, deps, now));
}

/** Groups the keyed rules by key (one object call per key) and decides; a ban that blocks the address is written after the response. */
function decideKeyed(request: Request, view: RequestView, keyed: ReadonlyArray<Keyed>, overrides: ReadonlyArray<LimitOverride | undefined> | undefined, deps: LimiterDeps, now: number): MaybePromise<Verdict> {
  // Few rules match one request: a list is quicker to search than a map is to build.
  const groups: Group[] = [];
  for (const [i, { rule, value }] of keyed.entries()) {
    const override = overrides?.[i];
    if (override?.exempt) continue;
    const name = `${rule.keySignature}=${value}`;
    let group: Group | undefined;
    for (const g of groups) if (g.name === name) group = g;
    if (!group) groups.push((group = { name, rules: [], limits: [] }));
    group.rules.push(rule);
    const cost = costOf(rule, request.headers);
    for (const limit of override ? override.limits : rule.limits) group.limits.push({ rule, limit, cost });
  }
  if (groups.length === 0) return unlimited(view);
  return after(decideGroups(groups, deps, now, view), (decided) => withBan(decided as GroupsVerdict & { readonly view: RequestView }, deps, now));
}

/** The verdict, with the block-list write of a ban that blocks the client's address started (it finishes after the response). */
function withBan(verdict: GroupsVerdict & { readonly view: RequestView }, deps: LimiterDeps, now: number): Verdict {
  const { view } = verdict;
  const ban = verdict.placedBan?.rule.ban;
  if (!ban?.blockAddress || view.address === undefined || !deps.lists?.blockAddress) return verdict;
  const address = ipKey(view.address, deps.compiled.policy.clientIp);
  if (address === undefined) return verdict;
  const rule = verdict.placedBan!.rule;
  const reason = `banned by rule ${rule.name}: ${ban.after} refusals within ${formatDuration(ban.within)}`;
  const background = deps.lists.blockAddress(address, verdict.placedBan!.until, reason, now).catch((error: unknown) => logEvent('block_failed', { rule: rule.name, error: String(error) }));
  logEvent('address_blocked', { rule: rule.name, until: new Date(verdict.placedBan!.until).toISOString() });
  return { ...verdict, background: verdict.background ? Promise.all([verdict.background, background]).then(() => undefined) : background };
}

/** The verdict for a request no limit applies to (no rule matched, or an allow list named it). */
function unlimited(view: RequestView): Verdict {
  return { view, kind: 'allow', results: [], retryAfterMs: 0, status: 200, settle: NOTHING_TO_SETTLE };
}

/** Whether the policy's or the live allow and block lists name the request's address, country, ASN or credential. */
export function listedAs(view: RequestView, deps: LimiterDeps, now: number): MaybePromise<'allow' | 'block' | undefined> {
  if (!hasLists(deps)) return undefined;
  const facts = new ViewFacts(view);
  const listed = (live: { allow: CompiledList; block: CompiledList } | undefined) => {
    if (deps.compiled.allow.matches(facts) || live?.allow.matches(facts)) return 'allow';
    if (deps.compiled.block.matches(facts) || live?.block.matches(facts)) return 'block';
    return undefined;
  };
  return deps.lists ? after(deps.lists.current(now), listed) : listed(undefined);
}

/** Whether any list, the policy's or a live one, could name a request. */
function hasLists(deps: LimiterDeps): boolean {
  return !deps.compiled.allow.empty || !deps.compiled.block.empty || deps.lists !== undefined;
}

/** What lists test of a request; country and network are read only by a list naming some. */
class ViewFacts implements ListFacts {
  readonly address: string | undefined;
  readonly credentialHash: string | undefined;
  constructor(private readonly view: RequestView) {
    this.address = view.address;
    this.credentialHash = view.identity.credentialHash;
  }
  get country(): string | undefined {
    const country = this.view.cf.country;
    return typeof country === 'string' ? country : undefined;
  }
  get asn(): number | undefined {
    const asn = this.view.cf.asn;
    return typeof asn === 'number' ? asn : undefined;
  }
}

/** The verdict for a request a block list names: 403, counted and logged. */
export function blockedVerdict(view: RequestView, deps: LimiterDeps): Verdict {
  deps.metrics.count('(blocklist)', 'blocked', deps.analytics);
  logEvent('blocked', { reason: 'blocklist', path: view.path });
  return { view, results: [], retryAfterMs: 0, settle: NOTHING_TO_SETTLE, kind: 'block', status: 403 };
}

/** A verdict without the request it was made for; lists are not consulted, so never a block. */
export type GroupsVerdict = Omit<Verdict, 'view' | 'kind'> & {
  readonly kind: Exclude<VerdictKind, 'block'>;
  /** The request decided, when there is one (not for `checkLimit`). */
  readonly view?: RequestView | undefined;
  /** The ban this request placed, if any: its rule and end. */
  readonly placedBan?: { readonly rule: Rule; readonly until: number };
};

/**
 * Asks each group's object once, in parallel, and folds the answers into one
 * verdict: refusals, bans and fail-closed faults refuse; reservations made
 * under other keys are given back when anything refuses. Shared by requests
 * ({@link evaluate}) and by decisions without HTTP (`checkLimit`).
 */
export function decideGroups(ordered: readonly Group[], deps: LimiterDeps, now: number, view?: RequestView): MaybePromise<GroupsVerdict> {
  // Results come in policy order, whatever order the groups were made in.
  for (const group of ordered) if (group.rules.length > 1) group.limits.sort((a, b) => a.rule.index - b.rule.index);

  const prepared = ordered.map((group) => prepareGroup(group, deps));
  // A refusal this isolate already knows refuses the request whatever the other keys say: keys that
  // need not see refused requests (no countRefused, shadow or ban) are then not asked at all, so
  // there is nothing to count there and nothing to give back.
  // A leased key consults its lease before the deny cache (in askLease): units this isolate holds are spent, never stranded.
  const known = prepared.map((p) => (p.cacheable && !p.lease ? deps.denyCache.get(p.cacheKey, now, p.cost) : undefined));
  const refusedHere = known.some((d) => d !== undefined);
  const topUps: Array<Promise<void>> = [];
  const asked = ordered.map((group, i): GroupAnswer | Promise<GroupAnswer> => {
    const decision = known[i];
    if (decision) return { kind: 'decided', decision, cached: true };
    if (refusedHere && prepared[i]!.cacheable) return { kind: 'skipped' };
    return spendLease(group, prepared[i]!, deps, now, topUps) ?? askGroup(group, prepared[i]!, deps, now, topUps);
  });
  // Requests decided in the isolate wait for nothing: the lease top-ups they started finish after the response.
  return after(allOf(asked), (answers) => {
    // Refusals are logged under a short digest of their key.
    if (!answers.some(refuses)) return fold(ordered, answers, NO_DIGESTS, deps, now, topUps, view);
    return after(allOf(answers.map((a, i) => (refuses(a) ? shortDigest(ordered[i]!.name) : ''))), (named) => fold(ordered, answers, named, deps, now, topUps, view));
  });
}

/** Whether an object's (or the isolate's) answer refuses under some limit. */
function refuses(answer: GroupAnswer): boolean {
  return answer.kind === 'decided' && answer.decision.outcomes.some((o) => !o.decision.allowed);
}

const NO_DIGESTS: readonly string[] = [];

/** Folds the groups' answers into one verdict (see {@link decideGroups}); `keyDigests` name refusing keys in logs. */
function fold(ordered: readonly Group[], answers: readonly GroupAnswer[], keyDigests: readonly string[], deps: LimiterDeps, now: number, topUps: Array<Promise<void>>, view: RequestView | undefined): MaybePromise<GroupsVerdict> {
  const { metrics } = deps;
  const results: LimitResult[] = [];
  const releases: Releases = [];
  let kind: GroupsVerdict['kind'] = 'allow';
  let refusedBy: CompiledRule | undefined;
  let retryAfterMs = 0;
  let status = 200;
  let placedBan: GroupsVerdict['placedBan'];

  for (const [i, answer] of answers.entries()) {
    const group = ordered[i]!;
    if (answer.kind === 'skipped') continue;
    if (answer.kind === 'failed') {
      const event = answer.onError.mode === 'closed' ? 'fail_closed' : 'fail_open';
      for (const rule of group.rules) metrics.count(rule.name, event, deps.analytics);
      logEvent(event, { rules: group.rules.map((r) => r.name), error: answer.error, timeoutMs: answer.onError.timeoutMs });
      if (answer.onError.mode === 'closed' && kind !== 'ban') {
        kind = 'unavailable';
        status = 503;
        refusedBy ??= group.rules[0];
        retryAfterMs = Math.max(retryAfterMs, 1000);
      }
      continue;
    }
    const decision = answer.decision;
    let pending: Array<{ release: Release; countWhen: (status: number) => boolean }> | undefined;
    const keyDigest = keyDigests[i] ?? '';
    for (let j = 0; j < decision.outcomes.length; j++) {
      const outcome = decision.outcomes[j]!;
      const entry = group.limits[j]!;
      results.push({ rule: entry.rule, limit: entry.limit, decision: outcome.decision, shadow: outcome.shadow });
      if (outcome.counted && decision.allowed && entry.limit.countWhen) {
        (pending ??= []).push({ release: { id: entry.limit.id, config: entry.limit.config, cost: entry.cost, countedAt: now }, countWhen: entry.limit.countWhen });
      }
      if (!outcome.decision.allowed) {
        const event = outcome.shadow ? 'shadow_refused' : 'refused';
        const fields = { rule: entry.rule.name, key: keyDigest, limit: entry.limit.config.limit, window: entry.limit.name, windowMs: entry.limit.config.windowMs };
        if (!answer.cached || !deps.repeats) logEvent(event, answer.cached ? { ...fields, cached: true } : fields);
        else {
          // Refusals answered in the isolate: one line a second per key and limit, counting the ones it stands for.
          const count = deps.repeats.fold(`${event}|${entry.limit.id}|${keyDigest}`, now);
          if (count > 0) logEvent(event, { ...fields, cached: true, count });
        }
        metrics.count(entry.rule.name, event, deps.analytics);
        if (!outcome.shadow) metrics.refusal(now, entry.rule.name, keyDigest, entry.limit.name);
      }
    }
    if (pending) releases.push({ group, pending });
    if (decision.banned) {
      const rule = group.rules.find((r) => r.name === decision.banned!.rule) ?? group.rules[0]!;
      kind = 'ban';
      refusedBy = rule;
      status = rule.rule.ban?.status ?? 403;
      retryAfterMs = Math.max(retryAfterMs, decision.banned.until - now);
      metrics.count(rule.name, 'banned', deps.analytics);
      if (decision.banned.placed) placedBan ??= { rule: rule.rule, until: decision.banned.until };
    } else if (!decision.allowed) {
      if (kind === 'allow' || kind === 'limit') {
        kind = 'limit';
        status = 429;
      }
      for (const o of decision.outcomes) {
        if (!o.shadow && !o.decision.allowed && o.decision.retryAfterMs >= retryAfterMs) {
          retryAfterMs = o.decision.retryAfterMs;
          refusedBy = group.limits[decision.outcomes.indexOf(o)]!.rule;
        }
      }
    } else {
      for (const rule of group.rules) metrics.count(rule.name, 'allowed', deps.analytics);
    }
  }

  // A refused request is never forwarded: what other keys counted of it goes back, unless their rule counts refusals.
  // (Units spent from a lease stay spent: giving them back would cost the object call the lease saved.)
  if (kind !== 'allow') {
    for (const [i, answer] of answers.entries()) {
      if (answer.kind !== 'decided' || answer.cached || !answer.decision.allowed) continue;
      const group = ordered[i]!;
      const back = answer.decision.outcomes.flatMap((outcome, j) => {
        const entry = group.limits[j]!;
        return outcome.counted && !outcome.shadow && !entry.limit.countWhen && !entry.rule.rule.countRefused
          ? [{ release: { id: entry.limit.id, config: entry.limit.config, cost: entry.cost, countedAt: now }, countWhen: () => false }]
          : [];
      });
      if (back.length > 0) releases.push({ group, pending: back });
    }
  }

  const settle = releases.length > 0 ? settler(releases, kind, deps, now) : NOTHING_TO_SETTLE;
  const verdict: { -readonly [K in keyof GroupsVerdict]: GroupsVerdict[K] } = { kind, results, retryAfterMs, status, settle: kind === 'allow' ? settle : NOTHING_TO_SETTLE, view };
  if (refusedBy) verdict.refusedBy = refusedBy;
  if (placedBan) verdict.placedBan = placedBan;
  if (topUps.length > 0) verdict.background = Promise.all(topUps).then(() => undefined);
  // A refused request is never forwarded: what it reserved goes back before the refusal is answered.
  return kind !== 'allow' && releases.length > 0 ? settle('error').then(() => verdict) : verdict;
}

/** Reservations counted under a group's key, each given back unless the response's status is one its limit counts. */
type Releases = Array<{ group: Group; pending: Array<{ release: Release; countWhen: (status: number) => boolean }> }>;

/**
 * The `settle` of a verdict whose keys counted reservations: gives back,
 * once the outcome is known, every one the outcome does not count (all of
 * them when the request was refused or the origin failed).
 */
function settler(releases: Releases, kind: GroupsVerdict['kind'], deps: LimiterDeps, now: number): (outcome: number | 'error') => Promise<void> {
  return async (outcome) => {
    await Promise.all(
      releases.map(async ({ group, pending }) => {
        const back = pending.filter((p) => outcome === 'error' || kind !== 'allow' || !p.countWhen(outcome)).map((p) => p.release);
        if (back.length === 0) return;
        try {
          await deps.limiterFor(group.name).release(now, back);
        } catch (error) {
          logEvent('release_failed', { error: String(error), limits: back.map((b) => b.id) });
        }
      }),
    );
  };
}

type GroupAnswer =
  | { kind: 'decided'; decision: KeyDecision; cached: boolean }
  | { kind: 'failed'; onError: OnError; error: string }
  /** Not asked: the request is refused under another key, and this one need not see it. */
  | { kind: 'skipped' };

/** What asking one group's object takes, worked out once per request. */
interface PreparedGroup {
  readonly limits: readonly LimitRequest[];
  readonly bans: readonly BanRequest[];
  /** `limits` and `bans` packed for {@link KeyLimiter.checkPacked}. */
  readonly spec: PackedSpec;
  readonly cost: number;
  readonly cacheKey: string;
  /** Whether its refusals may be answered in the isolate: refusals that count, shadow limits and bans need the object to see every request. */
  readonly cacheable: boolean;
  readonly lease: { size: number; ttlMs: number } | undefined;
  readonly onError: OnError;
}

/**
 * What a group of one rule at the policy's limits needs, besides its name:
 * the same for every request at one cost. The groups prepared lately are
 * kept by name, so a key that keeps coming back is prepared once.
 */
const ruleShapes = new WeakMap<
  CompiledRule,
  { readonly cost: number; readonly leases: boolean; readonly shape: Omit<PreparedGroup, 'cacheKey'>; readonly suffix: string; readonly byName: Map<string, PreparedGroup> }
>();

/** Prepared groups kept per rule shape, at most. */
const PREPARED_PER_RULE = 1_000;

function prepareGroup(group: Group, deps: LimiterDeps): PreparedGroup {
  const rule = group.rules[0]!;
  const atPolicyLimits = group.rules.length === 1 && group.limits.length === rule.limits.length && group.limits.every((l, i) => l.limit === rule.limits[i]);
  let known = atPolicyLimits ? ruleShapes.get(rule) : undefined;
  const cost = group.limits[0]?.cost ?? 0;
  const leases = deps.leases !== undefined;
  if (!known || known.cost !== cost || known.leases !== leases) {
    known = { cost, leases, ...shapeOf(group, deps), byName: new Map() };
    if (atPolicyLimits) ruleShapes.set(rule, known);
  }
  let prepared = known.byName.get(group.name);
  if (!prepared) {
    prepared = Object.freeze({ ...known.shape, cacheKey: `${group.name}#${known.suffix}` });
    if (known.byName.size >= PREPARED_PER_RULE) known.byName.delete(known.byName.keys().next().value!);
    known.byName.set(group.name, prepared);
  }
  return prepared;
}

/** A group's settings but its deny-cache key, and what that key adds to the group's name. */
function shapeOf(group: Group, deps: LimiterDeps): { shape: Omit<PreparedGroup, 'cacheKey'>; suffix: string } {
  const limits = Object.freeze(group.limits.map(toRequest));
  const bans = Object.freeze(bansOf(group.rules));
  const cacheable = bans.length === 0 && limits.every((l) => !l.countRefused && !l.shadow);
  const shape = {
    limits,
    bans,
    spec: packSpec(limits, bans),
    cost: Math.min(...group.limits.map((l) => l.cost)),
    cacheable,
    lease: cacheable && deps.leases ? leaseSettings(group) : undefined,
    onError: groupOnError(group.rules),
  };
  return { shape, suffix: limits.map((l) => `${l.id}:${l.config.limit}:${l.config.windowMs}`).join(',') };
}

/**
 * Decides from the isolate's live lease on the group's key, if it has one
 * with units left; the top-up of a lease running low is pushed onto
 * `topUps`. `undefined` when the object must be asked ({@link askGroup}).
 */
function spendLease(group: Group, prepared: PreparedGroup, deps: LimiterDeps, now: number, topUps: Array<Promise<void>>): GroupAnswer | undefined {
  const { lease, cacheKey, cost, limits, onError } = prepared;
  if (!lease || !deps.leases) return undefined;
  const decision = spendLocally(group.name, cacheKey, limits, lease, now, cost, deps, deps.leases, onError.timeoutMs, topUps);
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
  deps: LimiterDeps,
  leases: LeaseCache,
  timeoutMs: number,
  topUps: Array<Promise<void>>,
): KeyDecision | undefined {
  const decision = leases.take(cacheKey, now, cost);
  if (!decision) return undefined;
  if (leases.low(cacheKey, now, lease.ttlMs)) topUps.push(topUp(name, cacheKey, { now, limits, size: lease.size, ttlMs: lease.ttlMs }, cost, deps, leases, timeoutMs));
  return decision;
}

/** Asks a group's object (or its lease); its deny-cache entry, if any, was consulted by the caller. */
function askGroup(group: Group, prepared: PreparedGroup, deps: LimiterDeps, now: number, topUps: Array<Promise<void>>): Promise<GroupAnswer> {
  return prepared.lease && deps.leases ? askLeasedGroup(group, prepared, deps, now, topUps) : askExactly(group, prepared, deps, now);
}

/**
 * Asks the group's object to decide this request. In exact mode this is
 * every request's path: one call, its timer, and one continuation that
 * reads the answer.
 */
function askExactly(group: Group, prepared: PreparedGroup, deps: LimiterDeps, now: number): Promise<GroupAnswer> {
  try {
    const { limits, bans, spec, onError } = prepared;
    if (deps.batcher) {
      const asking = withTimeout(deps.batcher.check(group.name, () => deps.limiterFor(group.name), { now, limits, bans }, onError.timeoutMs / 2), onError.timeoutMs);
      return answerOf(asking, (answer) => asKeyDecision(answer, limits.length), prepared, deps, now);
    }
    const stub = deps.limiterFor(group.name);
    if (!stub.checkPacked) return answerOf(withTimeout(stub.check({ now, limits, bans }), onError.timeoutMs), (answer) => asKeyDecision(answer, limits.length), prepared, deps, now);
    return answerOf(withTimeout(stub.checkPacked(now, spec), onError.timeoutMs), (packed) => unpackDecision(packed, limits), prepared, deps, now);
  } catch (error) {
    return Promise.resolve(failed(error, prepared.onError));
  }
}

/** Spends or fetches a lease for the group, or asks the object exactly when that cannot decide. */
async function askLeasedGroup(group: Group, prepared: PreparedGroup, deps: LimiterDeps, now: number, topUps: Array<Promise<void>>): Promise<GroupAnswer> {
  const { limits, cost, cacheKey, lease, onError } = prepared;
  try {
    const leased = await askLease(group.name, cacheKey, { now, limits, ...lease! }, cost, deps, deps.leases!, onError.timeoutMs, topUps);
    if (leased) return leased;
  } catch (error) {
    return failed(error, onError);
  }
  return askExactly(group, prepared, deps, now);
}

/** The group answer once `asking` settles: the decision `read` finds in the object's answer, or the fault. */
function answerOf<A>(asking: Promise<A>, read: (answer: A) => KeyDecision | undefined, prepared: PreparedGroup, deps: LimiterDeps, now: number): Promise<GroupAnswer> {
  return asking.then(
    (answer) => {
      try {
        return answered(read(answer), prepared, deps, now);
      } catch (error) {
        return failed(error, prepared.onError);
      }
    },
    (error: unknown) => failed(error, prepared.onError),
  );
}

/** The object's answer as a group answer; one in another shape (an object running other code, mid-deployment) is a fault, not a 500. */
function answered(decision: KeyDecision | undefined, prepared: PreparedGroup, deps: LimiterDeps, now: number): GroupAnswer {
  if (!decision) return failed(new Error('malformed answer from the key object'), prepared.onError);
  if (prepared.cacheable && !decision.allowed) deps.denyCache.remember(prepared.cacheKey, now, prepared.cost, decision);
  return { kind: 'decided', decision, cached: false };
}

function failed(error: unknown, onError: OnError): GroupAnswer {
  const overloaded = typeof error === 'object' && error !== null && 'overloaded' in error && (error as { overloaded?: unknown }).overloaded === true;
  return { kind: 'failed', onError, error: overloaded ? 'overloaded' : String(error) };
}

/** An object's answer when it has the shape this code reads (one outcome per limit asked), else `undefined`. */
function asKeyDecision(value: unknown, limits: number): KeyDecision | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Partial<KeyDecision>;
  const fits = (
    typeof d.allowed === 'boolean' &&
    Array.isArray(d.outcomes) &&
    d.outcomes.length === limits &&
    d.outcomes.every((o) => typeof o === 'object' && o !== null && typeof o.decision === 'object' && o.decision !== null && typeof o.decision.allowed === 'boolean')
  );
  return fits ? (value as KeyDecision) : undefined;
}

/** Lease size and lifetime when every rule of the group opts in and every limit can be leased; the smallest of each wins. */
function leaseSettings(group: Group): { size: number; ttlMs: number } | undefined {
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
  deps: LimiterDeps,
  leases: LeaseCache,
  timeoutMs: number,
  topUps: Array<Promise<void>>,
): Promise<GroupAnswer | undefined> {
  // Each turn either spends from the lease another request just fetched, or fetches one; the bound only guards against starvation.
  for (let turn = 0; turn < 100; turn++) {
    const local = spendLocally(name, cacheKey, request.limits, request, request.now, cost, deps, leases, timeoutMs, topUps);
    if (local) return { kind: 'decided', decision: local, cached: true };
    // Unspent units of a lapsed lease go back to the object first: they may be all the budget left.
    const denied = leases.holdsUnspent(cacheKey) ? undefined : deps.denyCache.get(cacheKey, request.now, cost);
    if (denied) return { kind: 'decided', decision: denied, cached: true };
    // Surrender, ask and store under one key's turn, so no other request of this isolate can replace the lease in between.
    // Where requests cannot wait for each other, one that finds another asking decides on its own, exactly.
    if (!leases.waits && leases.busy(cacheKey)) return undefined;
    // A stub made in this turn: after waiting, a request may resume in another context than an earlier stub's.
    const lease = leaseCall(deps, name);
    if (!lease) return undefined;
    const decision = await leases.single(cacheKey, async () => {
      const size = leases.askSize(cacheKey, request.now, request.size, request.ttlMs);
      const giveBack = leases.surrender(cacheKey, request.now);
      const answer = await withTimeout(Promise.resolve(lease({ ...request, size, ...(giveBack ? { giveBack } : {}) })), timeoutMs);
      if (answer.grant) return leases.store(cacheKey, answer.grant, cost, answer.decision, request.now);
      if (!answer.decision.allowed) deps.denyCache.remember(cacheKey, request.now, cost, answer.decision);
      return answer.decision;
    });
    if (decision) return { kind: 'decided', decision, cached: false };
  }
  return undefined;
}

/** The `lease` method of a key's object, made now, or `undefined` for a stub without one. */
function leaseCall(deps: LimiterDeps, name: string): ((request: LeaseRequest) => Promise<LeaseAnswer> | LeaseAnswer) | undefined {
  const stub = deps.limiterFor(name);
  if (!stub.lease) return undefined;
  // Called on the stub itself: an RPC stub answers every property as a remote method, `bind` included.
  return (request) => stub.lease!(request);
}

/**
 * Fetches the next units of a lease running low while the isolate still
 * spends the last ones (see {@link LeaseCache.low}), so other requests do
 * not find it empty and ask the object themselves. The request that fetches
 * has already been decided and does not wait for it (it finishes after the
 * response, see {@link Verdict.background}); a failed fetch only costs its
 * units.
 */
async function topUp(name: string, cacheKey: string, request: Omit<LeaseRequest, 'giveBack'>, cost: number, deps: LimiterDeps, leases: LeaseCache, timeoutMs: number): Promise<void> {
  try {
    const lease = leaseCall(deps, name);
    if (!lease) return;
    await leases.single(cacheKey, async () => {
      const size = leases.askSize(cacheKey, request.now, request.size, request.ttlMs);
      const answer = await withTimeout(Promise.resolve(lease({ ...request, size })), timeoutMs);
      if (answer.grant) return leases.topUp(cacheKey, answer.grant, answer.decision, request.now);
      // No room left: the lease is spent to the end, and the refusal then answers from the deny cache.
      leases.noMore(cacheKey);
      if (!answer.decision.allowed) deps.denyCache.remember(cacheKey, request.now, cost, answer.decision);
    });
  } catch (error) {
    logEvent('lease_failed', { error: String(error), timeoutMs });
  }
}

const digests = new Map<string, string>();

/** A short, non-reversible name for a key in logs and the dashboard (keys may hold client addresses); remembered, since a flood asks for the same one. */
function shortDigest(name: string): MaybePromise<string> {
  const known = digests.get(name);
  return known !== undefined ? known : digestOf(name);
}

async function digestOf(name: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(name));
  const short = [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (digests.size >= 10_000) digests.delete(digests.keys().next().value!);
  digests.set(name, short);
  return short;
}
