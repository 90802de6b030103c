import { describe, expect, it } from 'vitest';
import { PolicyError, parsePolicy } from './parse';
import { policyErrorOf } from './test-support';

const rules = [
  { name: 'per-address', key: 'ip', limits: [{ limit: 60, window: '1m' }] },
  { name: 'smooth', key: 'ip', limits: [{ algorithm: 'gcra', limit: 10, window: '1s' }] },
  { name: 'leased', key: 'bearer', limits: [{ limit: 1000, window: '1m' }], lease: { size: 10 } },
  { name: 'backed-off', key: 'bearer', backoff: { algorithm: 'gcra', limit: 5, period: '10s', levels: 2 } },
];
const withHealth = (originHealth: unknown) => ({ name: 'p', rules, originHealth });
const health = (extra: Record<string, unknown>) => withHealth({ rules: ['per-address'], errorRate: 0.5, ...extra });

/** One rejecting fixture per rule of `originHealth`: what is wrong, the input, and the exact issues reported. */
const REJECTED: Array<[string, unknown, string[]]> = [
  ['not an object', withHealth(true), ['originHealth: Invalid input: expected object, received boolean']],
  ['an unknown field', health({ rate: 0.5 }), ['originHealth: unknown field(s) "rate"']],
  ['no rules', withHealth({ errorRate: 0.5 }), ['originHealth.rules: Invalid input: expected array, received undefined']],
  ['an empty rule list', health({ rules: [] }), ['originHealth.rules: name at least one rule whose limits follow the origin']],
  ['a rule named twice', health({ rules: ['per-address', 'per-address'] }), ['originHealth.rules: names a rule twice']],
  ['a rule that does not exist', health({ rules: ['per-adress'] }), ['originHealth.rules[0]: no rule is named "per-adress"']],
  [
    'a rule with a gcra limit',
    health({ rules: ['smooth'] }),
    ['originHealth.rules[0]: rule "smooth" has gcra limits: only fixed-window and sliding-window limits can be reduced exactly'],
  ],
  [
    'a rule with a gcra backoff',
    health({ rules: ['backed-off'] }),
    ['originHealth.rules[0]: rule "backed-off" has gcra limits: only fixed-window and sliding-window limits can be reduced exactly'],
  ],
  [
    'a rule with a lease',
    health({ rules: ['leased'] }),
    ['originHealth.rules[0]: rule "leased" has a lease: a leased budget is spent in the isolate at the limit it was granted under'],
  ],
  ['a window under 1s', health({ window: '500ms' }), ['originHealth.window: window must be between 1s and 10m']],
  ['a window over 10m', health({ window: '11m' }), ['originHealth.window: window must be between 1s and 10m']],
  [
    'a window that is not a duration',
    health({ window: 'soon' }),
    ['originHealth.window: invalid duration "soon": use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  ['minRequests 0', health({ minRequests: 0 }), ['originHealth.minRequests: minRequests is a whole number from 1 to 1000000']],
  ['minRequests 2.5', health({ minRequests: 2.5 }), ['originHealth.minRequests: minRequests is a whole number from 1 to 1000000']],
  ['minRequests as text', health({ minRequests: '20' }), ['originHealth.minRequests: minRequests is a whole number from 1 to 1000000']],
  ['errorRate 0', health({ errorRate: 0 }), ['originHealth.errorRate: errorRate is a share above 0 and at most 1']],
  ['errorRate 1.5', health({ errorRate: 1.5 }), ['originHealth.errorRate: errorRate is a share above 0 and at most 1']],
  [
    'latency without above',
    health({ latency: { p: 0.9 } }),
    ['originHealth.latency.above: required: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  ['latency p of 1', health({ latency: { p: 1, above: '2s' } }), ['originHealth.latency.p: latency.p is a number above 0 and below 1']],
  ['latency p of 0', health({ latency: { p: 0, above: '2s' } }), ['originHealth.latency.p: latency.p is a number above 0 and below 1']],
  [
    'latency above of 0',
    health({ latency: { p: 0.9, above: 0 } }),
    ['originHealth.latency.above: invalid duration 0: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  ['an unknown latency field', health({ latency: { p: 0.9, above: '2s', mean: '1s' } }), ['originHealth.latency: unknown field(s) "mean"']],
  ['retryAfter as text', health({ retryAfter: 'yes' }), ['originHealth.retryAfter: retryAfter is true or false']],
  ['maxHold over 1h', health({ maxHold: '2h' }), ['originHealth.maxHold: maxHold must be at most 1h']],
  ['cut 1', health({ cut: 1 }), ['originHealth.cut: cut is a number above 0 and below 1']],
  ['cut 0', health({ cut: 0 }), ['originHealth.cut: cut is a number above 0 and below 1']],
  ['recoverBy 0', health({ recoverBy: 0 }), ['originHealth.recoverBy: recoverBy is a share above 0 and at most 1']],
  ['recoverBy 2', health({ recoverBy: 2 }), ['originHealth.recoverBy: recoverBy is a share above 0 and at most 1']],
  ['every under 100ms', health({ every: 50 }), ['originHealth.every: every must be between 100ms and 10m']],
  ['every over 10m', health({ every: '1h' }), ['originHealth.every: every must be between 100ms and 10m']],
  ['floor 0', health({ floor: 0 }), ['originHealth.floor: floor is a number above 0 and below 1']],
  ['floor 1', health({ floor: 1 }), ['originHealth.floor: floor is a number above 0 and below 1']],
  [
    'no trigger at all',
    withHealth({ rules: ['per-address'], retryAfter: false }),
    ['originHealth.errorRate: give at least one trigger: errorRate, latency, or retryAfter: true'],
  ],
];

describe('originHealth validation', () => {
  it('fills in defaults for a policy naming only its rules and one trigger', () => {
    expect(parsePolicy(health({})).originHealth).toEqual({
      rules: ['per-address'],
      window: 10_000,
      minRequests: 20,
      errorRate: 0.5,
      retryAfter: true,
      maxHold: 300_000,
      cut: 0.5,
      recoverBy: 0.1,
      every: 5_000,
      floor: 0.1,
    });
  });

  it('accepts every field, and a parsed policy parses again unchanged', () => {
    const once = parsePolicy(
      health({
        window: '30s',
        minRequests: 5,
        latency: { p: 0.9, above: '2s' },
        retryAfter: false,
        cut: 0.7,
        recoverBy: 0.05,
        every: '2s',
        floor: 0.2,
        maxHold: '1m',
      }),
    );
    expect(once.originHealth).toMatchObject({ window: 30_000, latency: { p: 0.9, above: 2_000 }, every: 2_000, maxHold: 60_000 });
    expect(parsePolicy(once)).toEqual(once);
  });

  it('accepts retryAfter alone as the trigger (it is on by default)', () => {
    expect(parsePolicy(withHealth({ rules: ['per-address'] })).originHealth?.retryAfter).toBe(true);
  });

  it.each(REJECTED)('rejects %s, naming the field and what is wrong', (_, input, issues) => {
    const error = policyErrorOf(input, 'fixture');
    expect(error).toBeInstanceOf(PolicyError);
    expect(error!.issues).toEqual(issues);
  });
});
