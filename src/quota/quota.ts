import { decideGroups } from '../engine/decide-groups';
import type { RequestPath } from '../engine/evaluate';
import type { LimitStatus } from '../engine/limit-status';
import { blockedVerdict, listedAs } from '../engine/lists';
import { hashMemo, keyValue, viewOf } from '../engine/request-facts';
import type { Verdict } from '../engine/verdict';
import { billedLimits } from '../identity/billing';
import { ANONYMOUS } from '../identity/resolve';
import type { KeySnapshot } from '../protocol/key-limiter';
import { normalizePath } from '../request/normalize-path';
import { inCalendarPeriod } from './calendar-quota';

/**
 * One limit as the quota endpoint reports it: the fields of {@link LimitStatus}
 * that apply without counting (nothing is counted by reading), with the
 * window's length, and `resetAt` as ISO 8601 for a JSON reader.
 */
export interface QuotaLimit extends Pick<LimitStatus, 'rule' | 'name' | 'policy' | 'limit' | 'used' | 'remaining'> {
  readonly algorithm: string;
  readonly windowSeconds: number;
  /** When the budget is whole again (ISO 8601), or null when nothing is counted. */
  readonly resetAt: string | null;
  /** Present when the limit counts the origin's answers with these statuses (`countResponses`), not requests. */
  readonly countsResponses?: ReadonlyArray<number | string>;
  /** Present for concurrency limits: requests of the key in flight now (`used` says the same); `windowSeconds` is then the slot lease. */
  readonly inFlight?: number;
  /** Present for calendar-period limits: the current period's unit and bounds (ISO 8601), and its time zone when not UTC. */
  readonly period?: { readonly unit: string; readonly start: string; readonly end: string; readonly timeZone?: string };
}

export interface QuotaReport {
  readonly policy: string;
  readonly tier: string;
  readonly limits: readonly QuotaLimit[];
}

/**
 * Keys' snapshots read for quota reports, kept per isolate for `ttlMs`: a
 * caller polling its quota costs each of its keys' objects at most one read
 * per `ttlMs`, however fast it polls. Bounded in size; the oldest go first.
 */
export class SnapshotCache {
  private readonly entries = new Map<string, { readonly at: number; readonly snapshot: Promise<KeySnapshot | undefined> }>();

  constructor(
    private readonly ttlMs = 1_000,
    private readonly maxEntries = 10_000,
  ) {}

  read(name: string, now: number, load: () => Promise<KeySnapshot | undefined>): Promise<KeySnapshot | undefined> {
    const hit = this.entries.get(name);
    if (hit && now - hit.at >= 0 && now - hit.at < this.ttlMs) return hit.snapshot;
    if (this.entries.size >= this.maxEntries && !hit) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    const snapshot = load().catch(() => undefined);
    this.entries.set(name, { at: now, snapshot });
    return snapshot;
  }
}

/**
 * What the calling client may still spend, rule by rule, read from its own
 * keys' objects without counting anything. Only keys derived from the
 * caller's own request are read, so nobody sees another caller's budget.
 * `method` and `path` (query parameters) narrow it to the rules a given
 * request would meet; without them every rule whose key the caller has is listed.
 * Each read counts against the endpoint's per-address limit (`quota.perAddress`);
 * past it, or from a blocked caller, the answer is the refusal to send instead.
 */
export async function quotaReport(
  request: Request,
  path: RequestPath,
  now: number,
  cache = new SnapshotCache(),
  host?: string,
): Promise<{ readonly report: QuotaReport } | { readonly refused: Verdict }> {
  const { compiled, lists, overrides, keys } = path;
  const policy = compiled.policy;
  const url = new URL(request.url);
  const identity = path.identify ? await path.identify(request.headers, now) : ANONYMOUS;
  const view = viewOf(request, policy, identity, host);
  // A blocked caller gets the same 403 here as anywhere else.
  if ((await listedAs(view, lists, now)) === 'block') return { refused: blockedVerdict(view, keys) };
  const quotaRule = compiled.quotaRule;
  const address = quotaRule ? await keyValue(quotaRule.rule.key, view, policy, hashMemo()) : undefined;
  if (quotaRule && address !== undefined) {
    const name = `${quotaRule.keySignature}=${address}`;
    const decided = await decideGroups(
      [{ name, rules: [quotaRule], limits: quotaRule.limits.map((limit) => ({ rule: quotaRule, limit, cost: 1 })) }],
      keys,
      now,
      view,
    );
    if (decided.kind !== 'allow') return { refused: { ...decided, view } };
  }
  const askedMethod = url.searchParams.get('method')?.toUpperCase();
  const askedPath = url.searchParams.get('path');
  const facts = {
    ...view,
    ...(askedMethod ? { method: askedMethod } : {}),
    ...(askedPath
      ? { path: normalizePath(askedPath.startsWith('/') ? askedPath : `/${askedPath}`, policy.caseSensitivePaths), literalPath: undefined }
      : {}),
  };
  const hash = hashMemo();
  const perRule = await Promise.all(
    compiled.rules.map(async (rule) => {
      if (rule.rule.shadow) return [];
      const narrowed = askedMethod !== undefined || askedPath !== null;
      if (narrowed ? !rule.matches(facts) : rule.rule.match.tiers !== undefined && !rule.rule.match.tiers.includes(identity.tier))
        return [];
      const value = await keyValue(rule.rule.key, view, policy, hash);
      if (value === undefined) return [];
      const override = overrides ? await overrides.lookup(rule, value, identity, now) : undefined;
      if (override?.exempt) return [];
      const limits = billedLimits(override ? override.limits : rule.limits, identity, !override);
      const name = `${rule.keySignature}=${value}`;
      // Rules sharing a key share its object: one read serves them all.
      const snapshot = await cache.read(name, now, async () => keys.limiterFor(name).inspect(now));
      const reported = limits.map((limit): QuotaLimit => inCalendarPeriod(reportOf(limit), limit.config, now));
      function reportOf(limit: (typeof limits)[number]): QuotaLimit {
        // The object's own view of the limit, as last counted.
        const decision = snapshot?.limits.find((l) => l.id === limit.id)?.decision;
        const total = decision?.limit ?? limit.config.burst ?? limit.config.limit;
        return {
          rule: rule.name,
          name: limit.name,
          policy: limit.id,
          algorithm: limit.config.algorithm,
          limit: total,
          windowSeconds: limit.config.windowMs / 1000,
          used: decision?.used ?? 0,
          remaining: decision?.remaining ?? total,
          resetAt: decision && decision.used > 0 ? new Date(decision.resetAt).toISOString() : null,
          ...(rule.rule.countResponses ? { countsResponses: rule.rule.countResponses.status } : {}),
          ...(limit.config.algorithm === 'concurrency' ? { inFlight: decision?.used ?? 0 } : {}),
        };
      }
      // A quiet rule's limits show once they are spent, as they would in a refusal's headers.
      return rule.rule.quiet ? reported.filter((l) => l.remaining === 0) : reported;
    }),
  );
  return { report: { policy: policy.name, tier: identity.tier, limits: perRule.flat() } };
}
