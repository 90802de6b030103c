import type { LimitOverride } from '../engine/verdict';
import type { Identity } from '../identity/resolve';
import { ruleLimits, type CompiledRule } from '../policy/compile';
import { expired, type TargetKind } from './entries';
import type { LiveSnapshot, OverrideEntry } from './live-config';

/** How specific a match is: exact key, subject, org, then prefixes (longer first). */
const RANK: Readonly<Record<TargetKind, number>> = { key: 0, subject: 1, org: 2 };

/**
 * The override in force for one rule and key, most specific first: an exact
 * key beats an exact subject, which beats an exact org, which beat any
 * prefix (`*`) entry, longer prefixes before shorter; for the same target an
 * entry naming the rule beats one for every rule (`*`). Expired entries are
 * ignored.
 */
export function findOverride(snapshot: LiveSnapshot, rule: string, keyValue: string, identity: Identity, now: number): OverrideEntry | undefined {
  const values: Record<TargetKind, string | undefined> = { key: keyValue, subject: identity.subject, org: identity.org };
  let best: { entry: OverrideEntry; score: number } | undefined;
  for (const entry of snapshot.overrides) {
    if (entry.rule !== rule && entry.rule !== '*') continue;
    const actual = values[entry.kind];
    if (actual === undefined) continue;
    const prefix = entry.value.endsWith('*');
    const matches = prefix ? actual.startsWith(entry.value.slice(0, -1)) : actual === entry.value;
    if (!matches || expired(entry.value_, now)) continue;
    // Lower is more specific.
    const score = (prefix ? 3 + RANK[entry.kind] : RANK[entry.kind]) * 1_000_000 - (prefix ? entry.value.length : 0) * 2 + (entry.rule === '*' ? 1 : 0);
    if (!best || score < best.score) best = { entry, score };
  }
  return best?.entry;
}

/** Turns an override entry into the limits a rule runs with for that key. */
export function applyOverride(rule: CompiledRule, entry: OverrideEntry): LimitOverride {
  if ('exempt' in entry.value_) return { exempt: true };
  return { exempt: false, limits: ruleLimits({ ...rule.rule, limits: entry.value_.limits, backoff: undefined }) };
}
