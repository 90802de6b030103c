import { describe, expect, it } from 'vitest';
import type { Identity } from '../identity/resolve';
import { EMPTY_LIST } from '../policy/compile';
import type { TargetKind } from './entries';
import type { LiveSnapshot, OverrideEntry } from './live-config';
import { findOverride } from './lookup';

const NOW = Date.parse('2026-06-01T00:00:00Z');

function entry(rule: string, kind: TargetKind, value: string, limit: number, expires?: string): OverrideEntry {
  return {
    rule,
    kind,
    value,
    key: `override:${rule}:${kind}:${value}`,
    value_: { limits: [{ algorithm: 'fixed-window', limit, window: 60_000 }], ...(expires ? { expires } : {}) },
  };
}

function snapshot(overrides: OverrideEntry[]): LiveSnapshot {
  return { loadedAt: NOW, overrides, lists: [], malformed: [], allow: EMPTY_LIST, block: EMPTY_LIST, listsValidUntil: Infinity };
}

const caller: Identity = { credentialHash: 'h', subject: 'user-7', org: 'acme', tier: 'pro', source: 'record' };
/** The limit of the override found, or undefined. */
const found = (s: LiveSnapshot, rule = 'api', key = 'key-123', identity = caller) => {
  const e = findOverride(s, rule, key, identity, NOW);
  return e && 'limits' in e.value_ ? e.value_.limits[0]!.limit : undefined;
};

describe('findOverride over a snapshot indexed by rule, kind and value', () => {
  // Each row: the entries, and the limit of the one that must win.
  const cases: Array<[string, OverrideEntry[], number | undefined]> = [
    [
      'an exact key beats an exact subject and org',
      [entry('api', 'org', 'acme', 3), entry('api', 'subject', 'user-7', 2), entry('api', 'key', 'key-123', 1)],
      1,
    ],
    ['an exact subject beats an exact org', [entry('api', 'org', 'acme', 3), entry('api', 'subject', 'user-7', 2)], 2],
    ['an exact org beats any prefix', [entry('api', 'key', 'key-*', 9), entry('api', 'org', 'acme', 3)], 3],
    ['a longer prefix beats a shorter one', [entry('api', 'key', 'k*', 8), entry('api', 'key', 'key-1*', 7)], 7],
    ['a key prefix beats a subject prefix', [entry('api', 'subject', 'user-7*', 6), entry('api', 'key', 'k*', 8)], 8],
    ['an entry naming the rule beats one for every rule', [entry('*', 'key', 'key-123', 5), entry('api', 'key', 'key-123', 4)], 4],
    ['an entry for every rule applies to this one', [entry('*', 'key', 'key-123', 5)], 5],
    ['a prefix naming the rule beats the same prefix for every rule', [entry('*', 'key', 'key-*', 5), entry('api', 'key', 'key-*', 4)], 4],
    ["another rule's entry never applies", [entry('other', 'key', 'key-123', 5), entry('other', 'key', 'key-*', 6)], undefined],
    [
      'an expired entry gives way to the next most specific',
      [entry('api', 'key', 'key-123', 1, '2026-05-01T00:00:00Z'), entry('api', 'org', 'acme', 3)],
      3,
    ],
    [
      'an expired prefix gives way to a shorter one',
      [entry('api', 'key', 'key-1*', 7, '2026-05-01T00:00:00Z'), entry('api', 'key', 'k*', 8)],
      8,
    ],
    ['nothing matches a different value', [entry('api', 'key', 'key-999', 1), entry('api', 'key', 'x*', 2)], undefined],
  ];
  it.each(cases)('%s', (_, overrides, limit) => {
    expect(found(snapshot(overrides))).toBe(limit);
    // The order entries were read in does not matter.
    expect(found(snapshot([...overrides].reverse()))).toBe(limit);
  });

  it('skips subject and org entries for an anonymous caller', () => {
    const s = snapshot([entry('api', 'subject', 'user-7', 2), entry('api', 'org', 'acme', 3)]);
    expect(found(s, 'api', 'key-123', { tier: 'anonymous', source: 'anonymous' })).toBeUndefined();
  });

  it('answers the same from the index on every lookup of one snapshot', () => {
    const s = snapshot([entry('api', 'key', 'key-123', 1), entry('api', 'key', 'key-*', 2)]);
    expect(found(s)).toBe(1);
    expect(found(s, 'api', 'key-456')).toBe(2);
    expect(found(s, 'api', 'zzz')).toBeUndefined();
  });
});
