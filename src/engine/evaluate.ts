import { billedLimits } from '../identity/billing';
import { ANONYMOUS, type Identity, resolveIdentity } from '../identity/resolve';
import { logEvent } from '../observability/log';
import { reducedLimit } from '../origin-health/reduced-limits';
import type { CompiledRule } from '../policy/compile';
import { formatDuration } from '../policy/duration';
import { ipKey } from '../request/client-ip';
import { decideGroups } from './decide-groups';
import { blockedVerdict, hasLists, listedAs } from './lists';
import { after, allOf, isPending, type MaybePromise } from './maybe';
import { hashMemo, keyValue, type RequestView, viewOf } from './request-facts';
import { type Group, type GroupsVerdict, type LimiterDeps, type LimitOverride, NOTHING_TO_SETTLE, type Verdict } from './verdict';

function costOf(rule: CompiledRule, headers: Headers): number {
  const cost = rule.rule.cost;
  if (typeof cost === 'number') return cost;
  const raw = headers.get(cost.header);
  const n = raw === null ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, cost.max) : cost.default;
}

/**
 * Decides a request against the policy: lists first, then every matching
 * rule. Rules are grouped by key value, each key's object is asked once, and
 * different keys are asked in parallel. A key that fails or times out
 * follows its rules' fail-open / fail-closed setting. `host`, when given,
 * is the host rules match instead of the request's.
 */
export function evaluate(request: Request, deps: LimiterDeps, now: number, host?: string): MaybePromise<Verdict> {
  const policy = deps.compiled.policy;
  if (!policy.identity) return evaluateAs(request, ANONYMOUS, deps, now, host);
  return resolveIdentity(
    request.headers,
    deps.compiled.identity!,
    { kv: deps.kv, secrets: deps.secrets, records: deps.identityRecords },
    now,
  ).then((identity) => evaluateAs(request, identity, deps, now, host));
}

/** {@link evaluate} once the caller's identity is known: lists first, then the rules. */
function evaluateAs(request: Request, identity: Identity, deps: LimiterDeps, now: number, host: string | undefined): MaybePromise<Verdict> {
  const view = viewOf(request, deps.compiled.policy, identity, host);
  if (!hasLists(deps)) return limitsFor(request, view, deps, now);
  return after(listedAs(view, deps, now), (listed) =>
    listed === 'allow' ? unlimited(view) : listed === 'block' ? blockedVerdict(view, deps) : limitsFor(request, view, deps, now),
  );
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
  return Promise.all(keyed.map(async ({ rule, value }) => ({ rule, value: await value }))).then((known) =>
    withOverrides(request, view, known, deps, now),
  );
}

/** Live overrides (Workers KV) of each keyed rule, then the decision. */
function withOverrides(
  request: Request,
  view: RequestView,
  keyed: ReadonlyArray<Keyed<string | undefined>>,
  deps: LimiterDeps,
  now: number,
): MaybePromise<Verdict> {
  const present = (keyed.every((k) => k.value !== undefined) ? keyed : keyed.filter((k) => k.value !== undefined)) as ReadonlyArray<Keyed>;
  if (present.length === 0) return unlimited(view);
  const source = deps.overrides;
  if (!source) return decideKeyed(request, view, present, undefined, deps, now);
  return after(allOf(present.map(({ rule, value }) => source.lookup(rule, value, view.identity, now))), (overrides) =>
    decideKeyed(request, view, present, overrides, deps, now),
  );
}

/** Groups the keyed rules by key (one object call per key) and decides; a ban that blocks the address is written after the response. */
function decideKeyed(
  request: Request,
  view: RequestView,
  keyed: ReadonlyArray<Keyed>,
  overrides: ReadonlyArray<LimitOverride | undefined> | undefined,
  deps: LimiterDeps,
  now: number,
): MaybePromise<Verdict> {
  // Few rules match one request: a list is quicker to search than a map is to build.
  const groups: Group[] = [];
  // Read once per request, so every reduced rule of it is reduced alike.
  const capacity = deps.capacity;
  const factor = capacity ? capacity.factor(now) : 1;
  for (const [i, { rule, value }] of keyed.entries()) {
    const override = overrides?.[i];
    if (override?.exempt) continue;
    const name = `${rule.keySignature}=${value}`;
    let group: Group | undefined;
    for (const g of groups) if (g.name === name) group = g;
    if (!group) groups.push((group = { name, rules: [], limits: [] }));
    group.rules.push(rule);
    const cost = costOf(rule, request.headers);
    const reduce = factor < 1 && capacity!.reduces(rule);
    for (const limit of billedLimits(override ? override.limits : rule.limits, view.identity, !override))
      group.limits.push({ rule, limit: reduce ? reducedLimit(limit, factor) : limit, cost });
  }
  if (groups.length === 0) return unlimited(view);
  return after(decideGroups(groups, deps, now, view), (decided) =>
    withBan(decided as GroupsVerdict & { readonly view: RequestView }, deps, now),
  );
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
  const background = deps.lists
    .blockAddress(address, verdict.placedBan!.until, reason, now)
    .catch((error: unknown) => logEvent('block_failed', { rule: rule.name, error: String(error) }));
  logEvent('address_blocked', { rule: rule.name, until: new Date(verdict.placedBan!.until).toISOString() });
  return { ...verdict, background: verdict.background ? Promise.all([verdict.background, background]).then(() => undefined) : background };
}

/** The verdict for a request no limit applies to (no rule matched, or an allow list named it). */
function unlimited(view: RequestView): Verdict {
  return { view, kind: 'allow', results: [], limits: [], retryAfterMs: 0, status: 200, settle: NOTHING_TO_SETTLE };
}
