import { holdsSlots } from '../algorithms/concurrency';
import type { BanRequest } from '../algorithms/decide';
import type { DecisionSinks } from '../observability/decision-sinks';
import { logEvent } from '../observability/log';
import type { RepeatFolder } from '../observability/repeat-folder';
import { fitsFullLimit } from '../origin-health/reduced-limits';
import type { CompiledLimit, CompiledRule } from '../policy/compile';
import type { OnError, ResponseCost } from '../policy/schema';
import type { Charge, Release } from '../protocol/key-limiter';
import { packSpec } from '../protocol/wire';
import { askExactly, type GroupAnswer, type PreparedGroup, type SmoothedAsk } from './ask-object';
import { systemClock } from './clock';
import { bansOf, limitRequestOf } from './key-request';
import { askLeasedGroup, type LeasedKeyObjects, leaseSettings, spendLease } from './leased';
import { type LimitStatus, limitStatus } from './limit-status';
import { after, allOf, type MaybePromise } from './maybe';
import type { RequestView } from './request-facts';
import { type AdvancedLimit, reportedCost, settledUnits } from './response-cost';
import { type Group, type GroupsVerdict, type LimitResult, NOTHING_TO_SETTLE } from './verdict';

/**
 * What deciding groups takes from its limiter: the keys' objects, the
 * isolate's caches of their answers (refusals, leases), and where the
 * decisions are counted. Built once per set of bindings.
 */
export interface KeyAccess extends LeasedKeyObjects, DecisionSinks {}

/** The strictest fault setting among rules sharing a key: closed wins, the shortest timeout wins. */
function groupOnError(rules: readonly CompiledRule[]): OnError {
  return {
    mode: rules.some((r) => r.onError.mode === 'closed') ? 'closed' : 'open',
    timeoutMs: Math.min(...rules.map((r) => r.onError.timeoutMs)),
  };
}

/**
 * Asks each group's object once, in parallel, and folds the answers into one
 * verdict: refusals, bans and fail-closed faults refuse; reservations made
 * under other keys are given back when anything refuses. Shared by requests
 * (`evaluate`) and by decisions without HTTP (`checkLimit`).
 */
export function decideGroups(ordered: readonly Group[], deps: KeyAccess, now: number, view?: RequestView): MaybePromise<GroupsVerdict> {
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
    return after(allOf(answers.map((a, i) => (refuses(a) ? shortDigest(ordered[i]!.name, deps) : ''))), (named) =>
      fold(ordered, answers, named, deps, now, topUps, view),
    );
  });
}

/**
 * Whether an object's (or the isolate's) answer refuses under some limit
 * (shadow limits too), or bans; or admits after a wait, which refuses when
 * this isolate's queue for the key is full.
 */
function refuses(answer: GroupAnswer): boolean {
  return (
    answer.kind === 'decided' &&
    (!answer.decision.allowed || answer.decision.delayMs !== undefined || answer.decision.outcomes.some((o) => !o.decision.allowed))
  );
}

const NO_DIGESTS: readonly string[] = [];

/** Folds the groups' answers into one verdict (see {@link decideGroups}); `keyDigests` name refusing keys in logs and Analytics Engine points. */
function fold(
  ordered: readonly Group[],
  answers: readonly GroupAnswer[],
  keyDigests: readonly string[],
  deps: KeyAccess,
  now: number,
  topUps: Array<Promise<void>>,
  view: RequestView | undefined,
): MaybePromise<GroupsVerdict> {
  const { metrics } = deps;
  const results: LimitResult[] = [];
  const releases: Releases = [];
  const charges: Charges = [];
  const differences: Differences = [];
  let advanced: Map<number, AdvancedLimit> | undefined;
  const slots: Slots = [];
  let kind: GroupsVerdict['kind'] = 'allow';
  let refusedBy: CompiledRule | undefined;
  let retryAfterMs = 0;
  let status = 200;
  let placedBan: GroupsVerdict['placedBan'];
  const delayed: Delayed[] = [];

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
    let chargeable: Charges[number]['pending'] | undefined;
    let settled: Differences[number]['pending'] | undefined;
    let held: Release[] | undefined;
    const keyDigest = keyDigests[i] ?? '';
    for (let j = 0; j < decision.outcomes.length; j++) {
      const outcome = decision.outcomes[j]!;
      const entry = group.limits[j]!;
      results.push({ rule: entry.rule, limit: entry.limit, decision: outcome.decision, shadow: outcome.shadow, counted: outcome.counted });
      if (outcome.counted && decision.allowed && entry.limit.countWhen) {
        (pending ??= []).push({
          release: { id: entry.limit.id, config: entry.limit.config, cost: entry.cost, countedAt: now },
          countWhen: entry.limit.countWhen,
        });
      }
      const responseCost = entry.rule.rule.responseCost;
      // A slot taken is held until the response ends, or given back at once when the request is refused (a shadow limit's too).
      if (outcome.counted && holdsSlots(entry.limit.config))
        (held ??= []).push({ id: entry.limit.id, config: entry.limit.config, cost: entry.cost, countedAt: now });
      if (entry.limit.countResponses && decision.allowed) {
        (chargeable ??= []).push({
          charge: { id: entry.limit.id, config: entry.limit.config, cost: entry.cost },
          counts: entry.limit.countResponses,
          ...(responseCost ? { reported: { rule: entry.rule, setting: responseCost } } : {}),
        });
      } else if (responseCost && outcome.counted && decision.allowed && !holdsSlots(entry.limit.config)) {
        const limit: AdvancedLimit = {
          setting: responseCost,
          advance: entry.cost,
          countWhen: entry.limit.countWhen,
          // Units spent from a lease stay spent, as a refused request's do: only a charge reaches the object.
          givesBack: entry.rule.rule.lease === undefined,
        };
        (settled ??= []).push({ limit: entry.limit, rule: entry.rule, advanced: limit });
        (advanced ??= new Map()).set(results.length - 1, limit);
      }
      if (!outcome.decision.allowed) {
        const event = outcome.shadow ? 'shadow_refused' : 'refused';
        const fields = {
          rule: entry.rule.name,
          key: keyDigest,
          limit: entry.limit.config.limit,
          window: entry.limit.name,
          windowMs: entry.limit.config.windowMs,
        };
        if (!answer.cached || !deps.repeats) logEvent(event, answer.cached ? { ...fields, cached: true } : fields);
        else {
          // Refusals answered in the isolate: one line a second per key and limit, counting the ones it stands for.
          const count = deps.repeats.fold(`${event}|${entry.limit.id}|${keyDigest}`, now);
          if (count > 0) logEvent(event, { ...fields, cached: true, count });
        }
        metrics.count(entry.rule.name, event, deps.analytics, keyDigest);
        if (!outcome.shadow) metrics.refusal(now, entry.rule.name, keyDigest, entry.limit.name);
      }
    }
    if (pending) releases.push({ group, pending });
    if (chargeable) charges.push({ group, pending: chargeable });
    if (settled) differences.push({ group, pending: settled });
    if (held) slots.push({ group, held });
    if (decision.banned) {
      const rule = group.rules.find((r) => r.name === decision.banned!.rule) ?? group.rules[0]!;
      kind = 'ban';
      refusedBy = rule;
      status = rule.rule.ban?.status ?? 403;
      retryAfterMs = Math.max(retryAfterMs, decision.banned.until - now);
      metrics.count(rule.name, 'banned', deps.analytics, keyDigest);
      if (decision.banned.placed) placedBan ??= { rule: rule.rule, until: decision.banned.until };
    } else if (!decision.allowed) {
      // Refused only by limits reduced for the origin's health, each of which would have admitted it whole: capacity, not rate.
      const shed = decision.outcomes.every(
        (o, j) => o.shadow || o.decision.allowed || fitsFullLimit(group.limits[j]!.limit, o.decision, group.limits[j]!.cost, o.counted),
      );
      if (shed && (kind === 'allow' || kind === 'capacity')) {
        kind = 'capacity';
        status = 503;
      } else if (!shed && (kind === 'allow' || kind === 'limit' || kind === 'capacity')) {
        kind = 'limit';
        status = 429;
      }
      for (const o of decision.outcomes) {
        if (!o.shadow && !o.decision.allowed && o.decision.retryAfterMs >= retryAfterMs) {
          retryAfterMs = o.decision.retryAfterMs;
          refusedBy = group.limits[decision.outcomes.indexOf(o)]!.rule;
        }
      }
    } else if (decision.delayMs !== undefined && decision.delayMs > 0) {
      delayed.push({ group, delayMs: decision.delayMs, firstResult: results.length - decision.outcomes.length, keyDigest });
    } else {
      for (const rule of group.rules) metrics.count(rule.name, 'allowed', deps.analytics);
    }
  }

  // Requests admitted after a wait are held here: each key's queue in this isolate must have room for them.
  let delayMs = 0;
  if (delayed.length > 0) {
    const held = kind === 'allow' ? holdPlaces(delayed, deps, now) : undefined;
    const full = held && 'full' in held ? held.full : undefined;
    for (const d of delayed)
      for (const rule of d.group.rules)
        if (d === full) metrics.count(rule.name, 'refused', deps.analytics, d.keyDigest);
        else metrics.count(rule.name, 'allowed', deps.analytics);
    if (full) {
      // The key's queue is full: refused as without smoothing; what the objects reserved goes back below.
      const { group, delayMs: wait, firstResult, keyDigest } = full;
      kind = 'limit';
      status = 429;
      retryAfterMs = Math.max(retryAfterMs, wait);
      refusedBy = group.rules.find((r) => r.rule.smooth) ?? group.rules[0];
      for (let j = firstResult; j < firstResult + group.limits.length; j++) {
        const result = results[j]!;
        if (!result.rule.rule.smooth || result.limit.config.algorithm !== 'gcra') continue;
        results[j] = { ...result, decision: { ...result.decision, allowed: false, retryAfterMs: wait } };
        const { limit } = result;
        logEvent('refused', {
          rule: result.rule.name,
          key: keyDigest,
          limit: limit.config.limit,
          window: limit.name,
          windowMs: limit.config.windowMs,
          queueFull: true,
        });
        metrics.refusal(now, result.rule.name, keyDigest, limit.name);
      }
    } else if (held && 'delayMs' in held) delayMs = held.delayMs;
  }

  // A refused request is never forwarded: what other keys counted of it goes back, unless their rule counts refusals.
  // (Units spent from a lease stay spent: giving them back would cost the object call the lease saved.)
  if (kind !== 'allow') {
    for (const [i, answer] of answers.entries()) {
      if (answer.kind !== 'decided' || answer.cached || !answer.decision.allowed) continue;
      const group = ordered[i]!;
      const back = answer.decision.outcomes.flatMap((outcome, j) => {
        const entry = group.limits[j]!;
        return outcome.counted &&
          !outcome.shadow &&
          !entry.limit.countWhen &&
          !entry.rule.rule.countRefused &&
          !holdsSlots(entry.limit.config)
          ? [{ release: { id: entry.limit.id, config: entry.limit.config, cost: entry.cost, countedAt: now }, countWhen: () => false }]
          : [];
      });
      if (back.length > 0) releases.push({ group, pending: back });
    }
    for (const { group, held } of slots) releases.push({ group, pending: held.map((release) => ({ release, countWhen: () => false })) });
  }

  const settle =
    releases.length > 0 || charges.length > 0 || differences.length > 0
      ? settler(releases, charges, differences, kind, deps, now)
      : NOTHING_TO_SETTLE;
  let limits: LimitStatus[] | undefined;
  const verdict: { -readonly [K in keyof GroupsVerdict]: GroupsVerdict[K] } = {
    kind,
    results,
    // Most requests never read them: the records are made on first read.
    get limits() {
      return (limits ??= results.map(limitStatus));
    },
    retryAfterMs,
    status,
    settle: kind === 'allow' ? settle : NOTHING_TO_SETTLE,
    view,
  };
  if (kind === 'allow' && delayMs > 0) verdict.delayMs = delayMs;
  if (refusedBy) verdict.refusedBy = refusedBy;
  if (advanced && kind === 'allow') verdict.responseCosts = advanced;
  if (kind === 'allow' && slots.length > 0) verdict.releaseSlots = slotReleaser(slots, deps);
  if (placedBan) verdict.placedBan = placedBan;
  if (topUps.length > 0) verdict.background = Promise.all(topUps).then(() => undefined);
  // A refused request is never forwarded: what it reserved goes back before the refusal is answered.
  if (kind !== 'allow' && releases.length > 0) return settle('error').then(() => verdict);
  // An admitted request that must wait is answered once its wait is over.
  return delayMs > 0 ? waitFor(delayMs, deps).then(() => verdict) : verdict;
}

/** A group whose object admitted the request after a wait, and where its results begin in the verdict's. */
interface Delayed {
  readonly group: Group;
  readonly delayMs: number;
  readonly firstResult: number;
  /** The key's digest, for log lines and refusal points should its queue be full. */
  readonly keyDigest: string;
}

/**
 * Takes a place in each delayed group's queue for the whole wait (the
 * longest of the groups' waits): all of them, and the wait; or none, and
 * the first group whose queue is full. Another request of this isolate may
 * have filled a queue while this one's object call was in flight.
 */
function holdPlaces(delayed: readonly Delayed[], deps: KeyAccess, now: number): { delayMs: number } | { full: Delayed } {
  const delayMs = Math.max(...delayed.map((d) => d.delayMs));
  const until = now + delayMs;
  const entered: Delayed[] = [];
  for (const d of delayed) {
    if (deps.waiting?.enter(d.group.name, maxQueuedOf(d.group), now, until)) {
      entered.push(d);
      continue;
    }
    for (const e of entered) deps.waiting!.leave(e.group.name, until);
    return { full: d };
  }
  return { delayMs };
}

/** The number of requests that may wait under a group's key: the smallest bound of its smoothing rules. */
function maxQueuedOf(group: Group): number {
  return Math.min(...group.rules.flatMap((r) => (r.rule.smooth ? [r.rule.smooth.maxQueued] : [])));
}

/** Resolves `ms` from now by the limiter's clock: a held request waits in the worker, costing no CPU, never in the key's object. */
function waitFor(ms: number, deps: KeyAccess): Promise<void> {
  const clock = deps.clock ?? systemClock;
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Reservations counted under a group's key, each given back unless the response's status is one its limit counts. */
type Releases = Array<{ group: Group; pending: Array<{ release: Release; countWhen: (status: number) => boolean }> }>;
/** A rule whose requests' cost the origin's response reports (`responseCost`). */
interface ReportedBy {
  readonly rule: CompiledRule;
  readonly setting: ResponseCost;
}
/**
 * Limits of `countResponses` rules under a group's key, each charged when the response's status is one its rule counts:
 * the cost the response reports, when the rule reads one, or else the request's cost.
 */
type Charges = Array<{
  group: Group;
  pending: Array<{ charge: Charge; counts: (status: number) => boolean; reported?: ReportedBy }>;
}>;
/**
 * Limits under a group's key that counted a request of a `responseCost` rule at its advance cost: once the
 * response reports the cost, the difference is charged, or given back where `givesBack` (not for leases).
 */
type Differences = Array<{ group: Group; pending: Array<{ limit: CompiledLimit; rule: CompiledRule; advanced: AdvancedLimit }> }>;

/** Concurrency slots a request took under a group's key. */
type Slots = Array<{ group: Group; held: Release[] }>;

/**
 * The `releaseSlots` of an admitted verdict that took concurrency slots:
 * gives every slot back, one call per key, at the time the response ended.
 * Only the first call does anything, so every way a response can end may call it.
 */
function slotReleaser(slots: Slots, deps: KeyAccess): (at: number) => Promise<void> {
  let released: Promise<void> | undefined;
  return (at) =>
    (released ??= Promise.all(
      slots.map(async ({ group, held }) => {
        try {
          await deps.limiterFor(group.name).release(at, held);
        } catch (error) {
          // The slot comes back when its lease ends.
          logEvent('release_failed', { error: String(error), limits: held.map((h) => h.id) });
        }
      }),
    ).then(() => undefined));
}

/**
 * The units a response reports for each rule that reads one, read once per
 * rule; `undefined` where it reports none usable (the advance stands). A
 * missing, malformed or capped value is logged under the rule's name, never
 * the key: with `repeats`, as one line a second per rule, header and reason,
 * with the `count` of responses it stands for (an origin that never sends
 * the header would otherwise write a line per request).
 */
function reportedUnits(
  response: { readonly headers: Headers } | undefined,
  repeats: RepeatFolder | undefined,
  now: number,
): (by: ReportedBy) => number | undefined {
  const known = new Map<CompiledRule, number | undefined>();
  const log = (event: string, fields: Record<string, unknown>) => {
    if (!repeats) return logEvent(event, fields);
    const count = repeats.fold(`${event}|${Object.values(fields).join('|')}`, now);
    if (count > 0) logEvent(event, { ...fields, count });
  };
  return ({ rule, setting }) => {
    if (known.has(rule)) return known.get(rule);
    let units: number | undefined;
    if (response) {
      const reported = reportedCost(response.headers, setting);
      if (reported.kind === 'units') {
        units = reported.units;
        if (reported.capped) log('response_cost_capped', { rule: rule.name, header: setting.header, max: setting.max });
      } else {
        log('response_cost_invalid', { rule: rule.name, header: setting.header, reason: reported.kind });
      }
    }
    known.set(rule, units);
    return units;
  };
}

/**
 * The `settle` of a verdict whose keys counted reservations, count
 * responses or take costs from responses: gives back, once the outcome is
 * known, every reservation the outcome does not count (all of them when the
 * request was refused or the origin failed); charges each key whose rules
 * count the response's status; and settles the difference between the cost
 * a response reports and the advance it was admitted on. One call per key
 * and kind of work; a response that changes nothing costs no call. The
 * response's headers are read before the first wait, so the caller may
 * change them once `settle` has been called.
 */
function settler(
  releases: Releases,
  charges: Charges,
  differences: Differences,
  kind: GroupsVerdict['kind'],
  deps: KeyAccess,
  now: number,
): (outcome: number | 'error', response?: { readonly headers: Headers }) => Promise<void> {
  return async (outcome, response) => {
    const answered = kind === 'allow' && outcome !== 'error';
    const unitsOf = reportedUnits(response, deps.repeats, now);
    const toCharge = new Map<Group, Charge[]>();
    const toRelease = new Map<Group, Release[]>();
    const add = <T>(calls: Map<Group, T[]>, group: Group, item: T) => {
      const list = calls.get(group);
      if (list) list.push(item);
      else calls.set(group, [item]);
    };
    if (answered) {
      for (const { group, pending } of charges) {
        for (const p of pending) {
          if (!p.counts(outcome)) continue;
          const units = p.reported ? unitsOf(p.reported) : undefined;
          if (units !== 0) add(toCharge, group, units === undefined ? p.charge : { ...p.charge, cost: units });
        }
      }
      for (const { group, pending } of differences) {
        for (const { limit, rule, advanced } of pending) {
          // A reservation its status does not keep goes back whole (below): settledUnits has nothing to settle for it.
          const units = settledUnits(advanced, outcome, unitsOf({ rule, setting: advanced.setting }));
          const { id, config } = limit;
          if (units > 0) add(toCharge, group, { id, config, cost: units });
          else if (units < 0) add(toRelease, group, { id, config, cost: -units, countedAt: now });
        }
      }
    }
    for (const { group, pending } of releases) {
      for (const p of pending) if (!answered || !p.countWhen(outcome as number)) add(toRelease, group, p.release);
    }
    await Promise.all([
      ...[...toCharge].map(async ([group, counted]) => {
        try {
          await deps.limiterFor(group.name).charge(now, counted);
        } catch (error) {
          logEvent('charge_failed', { error: String(error), limits: counted.map((c) => c.id) });
        }
      }),
      ...[...toRelease].map(async ([group, back]) => {
        try {
          await deps.limiterFor(group.name).release(now, back);
        } catch (error) {
          logEvent('release_failed', { error: String(error), limits: back.map((b) => b.id) });
        }
      }),
    ]);
  };
}

/**
 * What a group of one rule at the policy's limits needs, besides its name:
 * the same for every request at one cost. The groups prepared lately are
 * kept by name, so a key that keeps coming back is prepared once.
 */
const ruleShapes = new WeakMap<
  CompiledRule,
  {
    readonly cost: number;
    readonly leases: boolean;
    readonly shape: Omit<PreparedGroup, 'cacheKey'>;
    readonly suffix: string;
    readonly byName: Map<string, PreparedGroup>;
  }
>();

/** Prepared groups kept per rule shape, at most. */
const PREPARED_PER_RULE = 1_000;

function prepareGroup(group: Group, deps: KeyAccess): PreparedGroup {
  const rule = group.rules[0]!;
  const atPolicyLimits =
    group.rules.length === 1 && group.limits.length === rule.limits.length && group.limits.every((l, i) => l.limit === rule.limits[i]);
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
function shapeOf(group: Group, deps: KeyAccess): { shape: Omit<PreparedGroup, 'cacheKey'>; suffix: string } {
  const limits = Object.freeze(group.limits.map((l) => limitRequestOf(l)));
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
    smooth: smoothedAsk(group, bans),
  };
  // A calendar period's anchor and zone are part of the key's settings: a refusal cached under one does not hold under another.
  return {
    shape,
    suffix: limits
      .map((l) => `${l.id}:${l.config.limit}:${l.config.windowMs}${l.config.period ? `:${JSON.stringify(l.config.period)}` : ''}`)
      .join(','),
  };
}

/** What a group asks when its request may wait, when a rule of the group smooths one of its limits. */
function smoothedAsk(group: Group, bans: readonly BanRequest[]): SmoothedAsk | undefined {
  if (!group.rules.some((r) => r.rule.smooth)) return undefined;
  const limits = Object.freeze(group.limits.map((l) => limitRequestOf(l, true)));
  const waits = limits.flatMap((l) => (l.maxWaitMs !== undefined ? [l.maxWaitMs] : []));
  if (waits.length === 0) return undefined;
  const bounds = group.rules.flatMap((r) => (r.rule.smooth ? [r.rule.smooth.maxQueued] : []));
  return { limits, spec: packSpec(limits, bans), maxWaitMs: Math.max(...waits), maxQueued: Math.min(...bounds) };
}

/** Asks a group's object (or its lease); its deny-cache entry, if any, was consulted by the caller. */
function askGroup(group: Group, prepared: PreparedGroup, deps: KeyAccess, now: number, topUps: Array<Promise<void>>): Promise<GroupAnswer> {
  return prepared.lease && deps.leases ? askLeasedGroup(group, prepared, deps, now, topUps) : askExactly(group, prepared, deps, now);
}

/** A short, non-reversible name for a key in logs and the dashboard (keys may hold client addresses), by the bindings' digester; it remembers the latest, since a flood asks for the same one. */
function shortDigest(name: string, deps: KeyAccess): MaybePromise<string> {
  return deps.digester.digest(name);
}
