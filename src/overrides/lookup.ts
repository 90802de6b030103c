import type { LimitOverride } from '../engine/verdict';
import type { Identity } from '../identity/resolve';
import { type CompiledRule, ruleLimits } from '../policy/compile';
import { expired, type TargetKind } from './entries';
import type { LiveSnapshot, OverrideEntry } from './live-config';

/** Target kinds from most to least specific. */
const KINDS: readonly TargetKind[] = ['key', 'subject', 'org'];

/** A snapshot's overrides by rule, kind and value, built once per snapshot (see {@link overrideIndex}). */
interface OverrideIndex {
  /** Exact entries: `<rule>\n<kind>\n<value>` → entry. */
  readonly exact: ReadonlyMap<string, OverrideEntry>;
  /** Prefix (`*`) entries of each kind, longer prefixes first, an entry naming its rule before one for every rule. */
  readonly prefixes: Readonly<Record<TargetKind, readonly OverrideEntry[]>>;
}

const indexes = new WeakMap<readonly OverrideEntry[], OverrideIndex>();

/** The index of a snapshot's overrides, built on its first lookup and kept as long as the snapshot is. */
function overrideIndex(overrides: readonly OverrideEntry[]): OverrideIndex {
  let index = indexes.get(overrides);
  if (!index) {
    const exact = new Map<string, OverrideEntry>();
    const prefixes: Record<TargetKind, OverrideEntry[]> = { key: [], subject: [], org: [] };
    for (const entry of overrides) {
      if (entry.value.endsWith('*')) prefixes[entry.kind].push(entry);
      else if (!exact.has(exactKey(entry.rule, entry.kind, entry.value))) exact.set(exactKey(entry.rule, entry.kind, entry.value), entry);
    }
    for (const kind of KINDS)
      prefixes[kind].sort((a, b) => b.value.length - a.value.length || Number(a.rule === '*') - Number(b.rule === '*'));
    indexes.set(overrides, (index = { exact, prefixes }));
  }
  return index;
}

function exactKey(rule: string, kind: TargetKind, value: string): string {
  return `${rule}\n${kind}\n${value}`;
}

/**
 * The override in force for one rule and key, most specific first: an exact
 * key beats an exact subject, which beats an exact org, which beat any
 * prefix (`*`) entry, longer prefixes before shorter; for the same target an
 * entry naming the rule beats one for every rule (`*`). Expired entries are
 * ignored. The snapshot is indexed once, so a lookup reads a few map entries.
 */
export function findOverride(
  snapshot: LiveSnapshot,
  rule: string,
  keyValue: string,
  identity: Identity,
  now: number,
): OverrideEntry | undefined {
  if (snapshot.overrides.length === 0) return undefined;
  const index = overrideIndex(snapshot.overrides);
  const values: Record<TargetKind, string | undefined> = { key: keyValue, subject: identity.subject, org: identity.org };
  for (const kind of KINDS) {
    const actual = values[kind];
    if (actual === undefined) continue;
    const named = index.exact.get(exactKey(rule, kind, actual));
    if (named && !expired(named.value_, now)) return named;
    const any = rule === '*' ? undefined : index.exact.get(exactKey('*', kind, actual));
    if (any && !expired(any.value_, now)) return any;
  }
  for (const kind of KINDS) {
    const actual = values[kind];
    if (actual === undefined) continue;
    for (const entry of index.prefixes[kind]) {
      if ((entry.rule === rule || entry.rule === '*') && actual.startsWith(entry.value.slice(0, -1)) && !expired(entry.value_, now))
        return entry;
    }
  }
  return undefined;
}

/** Limits an entry gives a rule, worked out on first use and kept with the entry (a snapshot's entries live as long as it does). */
const applied = new WeakMap<OverrideEntry, Map<CompiledRule, LimitOverride>>();

/** Turns an override entry into the limits a rule runs with for that key. */
export function applyOverride(rule: CompiledRule, entry: OverrideEntry): LimitOverride {
  let byRule = applied.get(entry);
  if (!byRule) applied.set(entry, (byRule = new Map()));
  let limits = byRule.get(rule);
  if (!limits) {
    limits =
      'exempt' in entry.value_
        ? { exempt: true }
        : { exempt: false, limits: ruleLimits({ ...rule.rule, limits: entry.value_.limits, backoff: undefined }) };
    byRule.set(rule, limits);
  }
  return limits;
}
