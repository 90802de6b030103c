import { describe, expect, it } from 'vitest';
import type { LimitDecision } from '../algorithms/types';
import type { LimitResult, Verdict } from '../engine/verdict';
import type { CompiledLimit, CompiledRule } from '../policy/compile';
import { QUOTA_WINDOW_MS, REASON_OF_KIND, REFUSAL_REASONS, refusalReason, violatedPolicies } from './refusal-reason';

function limit(id: string, windowMs: number): CompiledLimit {
  const [rule, name] = id.split('/') as [string, string];
  return { id, name, rule, config: { algorithm: 'fixed-window', limit: 10, windowMs } };
}

function result(id: string, windowMs: number, decision: Partial<LimitDecision>, shadow = false): LimitResult {
  return {
    rule: { name: id.split('/')[0] } as CompiledRule,
    limit: limit(id, windowMs),
    decision: { allowed: true, limit: 10, used: 0, remaining: 10, resetAt: windowMs, retryAfterMs: 0, ...decision },
    shadow,
    counted: !shadow,
  };
}

const refused = (id: string, windowMs: number, retryAfterMs: number, shadow = false) =>
  result(id, windowMs, { allowed: false, remaining: 0, retryAfterMs }, shadow);
const rule = (name: string, windows: number[]) =>
  ({ name, limits: windows.map((w, i) => limit(`${name}/l${i}`, w)) }) as unknown as CompiledRule;

describe('refusalReason', () => {
  const cases: Array<[string, Pick<Verdict, 'kind' | 'results'>, string | undefined]> = [
    ['an admitted request has none', { kind: 'allow', results: [result('api/1m', 60_000, {})] }, undefined],
    ['a limit under a day is a rate', { kind: 'limit', results: [refused('api/1m', 60_000, 5_000)] }, 'rate'],
    [
      'a concurrency limit deciding the wait is concurrency',
      {
        kind: 'limit',
        results: [
          {
            ...refused('r/concurrent', 60_000, 2_000),
            limit: { ...limit('r/concurrent', 60_000), config: { algorithm: 'concurrency', limit: 2, windowMs: 60_000 } },
          },
          refused('r/1s', 1_000, 500),
        ],
      },
      'concurrency',
    ],
    ['a window just under a day is still a rate', { kind: 'limit', results: [refused('api/23h', QUOTA_WINDOW_MS - 1, 5_000)] }, 'rate'],
    ['a limit of a day is a quota', { kind: 'limit', results: [refused('api/1d', QUOTA_WINDOW_MS, 5_000)] }, 'quota'],
    ['a limit of a month is a quota', { kind: 'limit', results: [refused('api/30d', 30 * QUOTA_WINDOW_MS, 5_000)] }, 'quota'],
    [
      'the refusing limit with the longest wait decides: the daily one',
      { kind: 'limit', results: [refused('api/1m', 60_000, 5_000), refused('api/1d', QUOTA_WINDOW_MS, 3_600_000)] },
      'quota',
    ],
    [
      'the refusing limit with the longest wait decides: the minute one',
      { kind: 'limit', results: [refused('api/1m', 60_000, 50_000), refused('api/1d', QUOTA_WINDOW_MS, 1_000)] },
      'rate',
    ],
    [
      'an admitting daily limit does not make it a quota',
      { kind: 'limit', results: [refused('api/1m', 60_000, 5_000), result('api/1d', QUOTA_WINDOW_MS, { remaining: 0 })] },
      'rate',
    ],
    [
      'a shadow daily limit does not make it a quota',
      { kind: 'limit', results: [refused('api/1m', 60_000, 5_000), refused('api/1d', QUOTA_WINDOW_MS, 9_000_000, true)] },
      'rate',
    ],
    ['a ban', { kind: 'ban', results: [] }, 'ban'],
    ['a block list', { kind: 'block', results: [] }, 'block'],
    ['a fail-closed limiter fault', { kind: 'unavailable', results: [] }, 'unavailable'],
  ];
  it.each(cases)('%s', (_, verdict, expected) => {
    expect(refusalReason(verdict)).toBe(expected);
  });

  it('gives every refusing kind a reason from the one list, which reserves concurrency and capacity', () => {
    for (const [kind, reason] of Object.entries(REASON_OF_KIND)) {
      if (kind === 'allow') expect(reason).toBeUndefined();
      else expect(REFUSAL_REASONS).toContain(reason);
    }
    expect(REFUSAL_REASONS).toEqual(['rate', 'concurrency', 'quota', 'ban', 'block', 'capacity', 'unavailable']);
  });
});

describe('violatedPolicies', () => {
  it('names the limits that refused, not those that admitted or only shadow', () => {
    const results = [
      refused('api/1m', 60_000, 5_000),
      result('api/1h', 3_600_000, {}),
      refused('api/1d', QUOTA_WINDOW_MS, 9_000, true),
      refused('login/5m', 300_000, 1_000),
    ];
    expect(violatedPolicies({ kind: 'limit', results })).toEqual(['api/1m', 'login/5m']);
  });

  it("names the banning rule's limits for a ban", () => {
    expect(violatedPolicies({ kind: 'ban', results: [result('api/1m', 60_000, {})], refusedBy: rule('auth', [600_000]) })).toEqual([
      'auth/l0',
    ]);
  });

  it('names the limits of the rule whose object failed, for a fail-closed fault, once each', () => {
    const results = [refused('other/1m', 60_000, 5_000)];
    expect(violatedPolicies({ kind: 'unavailable', results, refusedBy: rule('other', [60_000, 3_600_000]) })).toEqual([
      'other/1m',
      'other/l0',
      'other/l1',
    ]);
    expect(violatedPolicies({ kind: 'unavailable', results: [], refusedBy: rule('per-ip', [60_000]) })).toEqual(['per-ip/l0']);
  });

  it('names nothing for a block list', () => {
    expect(violatedPolicies({ kind: 'block', results: [] })).toEqual([]);
  });
});
