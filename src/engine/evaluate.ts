import { billedLimits } from '../identity/billing';
import { ANONYMOUS, type IdentityReader } from '../identity/resolve';
import { logEvent } from '../observability/log';
import { reducedLimit } from '../origin-health/reduced-limits';
import type { CompiledPolicy, CompiledRule } from '../policy/compile';
import { formatDuration } from '../policy/duration';
import type { Policy } from '../policy/schema';
import { ipKey } from '../request/client-ip';
import { decideGroups, type KeyAccess } from './decide-groups';
import { blockedVerdict, hasLists, listedAs, type RequestLists } from './lists';
import { allOf, isPending } from './maybe';
import { hashMemo, keyValue, type RequestView, viewOf } from './request-facts';
import {
  type CapacitySource,
  type Group,
  type GroupsVerdict,
  type LimitOverride,
  NOTHING_TO_SETTLE,
  type OverrideSource,
  type Verdict,
} from './verdict';

/** What deciding a request takes from its limiter: each part narrow, built once per set of bindings (`limiter/limiter.ts`). */
export interface RequestPath {
  readonly compiled: CompiledPolicy;
  /** Who is calling; `undefined` when the policy has no `identity` settings (every caller is anonymous). */
  readonly identify: IdentityReader | undefined;
  readonly lists: RequestLists;
  /** Live overrides of rules' limits; `undefined` when the limiter reads none. */
  readonly overrides: OverrideSource | undefined;
  /** The keys' objects, the isolate's caches of their answers, and where decisions are counted. */
  readonly keys: KeyAccess;
  /** Reduces the limits of `originHealth` rules while the origin is degraded; `undefined` when the policy has none. */
  readonly capacity?: CapacitySource | undefined;
}

/**
 * Decides a request against the policy: lists first, then every matching
 * rule. Rules are grouped by key value, each key's object is asked once, and
 * different keys are asked in parallel. A key that fails or times out
 * follows its rules' fail-open / fail-closed setting. `host`, when given,
 * is the host rules match instead of the request's.
 *
 * A step is awaited only when it hands back a promise: the steps below
 * answer without one when nothing needs I/O (a cached live snapshot, a lease
 * spent, a refusal the isolate knows), and each `await` of a plain value
 * would cost a turn of the microtask queue (see `maybe.ts` for the figures).
 */
export async function evaluate(request: Request, path: RequestPath, now: number, host?: string): Promise<Verdict> {
  const { compiled, lists, overrides, keys } = path;
  const policy = compiled.policy;

  // 1. Who is calling: an identity record, verified claims or a token pattern.
  const identity = path.identify ? await path.identify(request.headers, now) : ANONYMOUS;

  // 2. What rules and lists look at: method, host, path, address, identity.
  const view = viewOf(request, policy, identity, host);

  // 3. Lists: an allow list admits without limits, a block list refuses with 403.
  if (hasLists(lists)) {
    const listing = listedAs(view, lists, now);
    const listed = isPending(listing) ? await listing : listing;
    if (listed === 'allow') return unlimited(view);
    if (listed === 'block') return blockedVerdict(view, keys);
  }

  // 4. The rules the request matches, each under its key's value (credentials in keys are hashed, in parallel).
  // Arrays on this path are made at their final size (`filter`, `map`, literals): one grown by `push` reserves room for 16.
  const matched = compiled.rules.filter((rule) => rule.matches(view));
  if (matched.length === 0) return unlimited(view);
  const hash = hashMemo();
  const computed = matched.map((rule) => keyValue(rule.rule.key, view, policy, hash));
  const values = computed.some(isPending) ? await Promise.all(computed) : (computed as Array<string | undefined>);
  // A rule whose key's part is absent from the request does not apply.
  const keyed = values.includes(undefined)
    ? matched.flatMap((rule, i) => (values[i] === undefined ? [] : [{ rule, value: values[i]! }]))
    : matched.map((rule, i) => ({ rule, value: values[i]! }));
  if (keyed.length === 0) return unlimited(view);

  // 5. Live overrides (Workers KV) of each keyed rule: other limits, or exempt.
  let overridden: ReadonlyArray<LimitOverride | undefined> | undefined;
  if (overrides) {
    const looking = allOf(keyed.map(({ rule, value }) => overrides.lookup(rule, value, identity, now)));
    overridden = isPending(looking) ? await looking : looking;
  }

  // 6. Groups: one per key value, so each key's object is called once for all its rules' limits.
  // Rules `originHealth` names get their limits reduced while the origin is degraded (the factor read once, so alike).
  const capacity = path.capacity;
  const factor = capacity ? capacity.factor(now) : 1;
  // Few rules match one request: a list is quicker to search than a map is to build.
  let groups: Group[] | undefined;
  for (let i = 0; i < keyed.length; i++) {
    const { rule, value } = keyed[i]!;
    const override = overridden?.[i];
    if (override?.exempt) continue;
    const name = `${rule.keySignature}=${value}`;
    const cost = costOf(rule, request.headers);
    const reduce = factor < 1 && capacity!.reduces(rule);
    const limits = billedLimits(override ? override.limits : rule.limits, identity, !override).map((limit) => ({
      rule,
      limit: reduce ? reducedLimit(limit, factor) : limit,
      cost,
    }));
    const group = groups?.find((g) => g.name === name);
    if (group) {
      group.rules.push(rule);
      group.limits.push(...limits);
    } else if (groups) groups.push({ name, rules: [rule], limits });
    else groups = [{ name, rules: [rule], limits }];
  }
  if (!groups) return unlimited(view);

  // 7. The decision: every key asked in parallel (or answered in the isolate), the answers folded.
  const deciding = decideGroups(groups, keys, now, view);
  const decided = (isPending(deciding) ? await deciding : deciding) as GroupsVerdict & { readonly view: RequestView };

  // 8. A ban that blocks the client's address puts it on the block list, after the response.
  return withBanWritten(decided, lists, policy, now);
}

function costOf(rule: CompiledRule, headers: Headers): number {
  const cost = rule.rule.cost;
  if (typeof cost === 'number') return cost;
  const raw = headers.get(cost.header);
  const n = raw === null ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, cost.max) : cost.default;
}

/** The verdict, with the block-list write of a ban that blocks the client's address started (it finishes after the response). */
function withBanWritten(
  verdict: GroupsVerdict & { readonly view: RequestView },
  lists: RequestLists,
  policy: Policy,
  now: number,
): Verdict {
  const { view } = verdict;
  const ban = verdict.placedBan?.rule.ban;
  if (!ban?.blockAddress || view.address === undefined || !lists.live?.blockAddress) return verdict;
  const address = ipKey(view.address, policy.clientIp);
  if (address === undefined) return verdict;
  const rule = verdict.placedBan!.rule;
  const reason = `banned by rule ${rule.name}: ${ban.after} refusals within ${formatDuration(ban.within)}`;
  const background = lists.live
    .blockAddress(address, verdict.placedBan!.until, reason, now)
    .catch((error: unknown) => logEvent('block_failed', { rule: rule.name, error: String(error) }));
  logEvent('address_blocked', { rule: rule.name, until: new Date(verdict.placedBan!.until).toISOString() });
  return { ...verdict, background: verdict.background ? Promise.all([verdict.background, background]).then(() => undefined) : background };
}

/** The verdict for a request no limit applies to (no rule matched, or an allow list named it). */
function unlimited(view: RequestView): Verdict {
  return { view, kind: 'allow', results: [], limits: [], retryAfterMs: 0, status: 200, settle: NOTHING_TO_SETTLE };
}
