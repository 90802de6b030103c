import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile';
import { parsePolicy } from './parse';
import { policyErrorOf } from './test-support';

const rule = { name: 'reports', key: 'ip', limits: [{ algorithm: 'concurrency', limit: 2 }] };

/** The message parsing a policy of `rule` with `limits` and `extra` throws; '' when it parses. */
const issues = (extra: Record<string, unknown>, limits: unknown[] = rule.limits) =>
  policyErrorOf({ name: 'p', rules: [{ ...rule, limits, ...extra }] })?.message ?? '';

describe('concurrency limits in a policy', () => {
  it('accepts a concurrency limit, named "concurrent", with a 60 s slot lease by default', () => {
    const policy = parsePolicy({ name: 'p', rules: [rule] });
    expect(policy.rules[0]!.limits[0]).toMatchObject({ algorithm: 'concurrency', limit: 2, name: 'concurrent', slotLease: 60_000 });
    const [limit] = compilePolicy(policy).rules[0]!.limits;
    expect(limit).toMatchObject({ id: 'reports/concurrent', config: { algorithm: 'concurrency', limit: 2, windowMs: 60_000 } });
  });

  it('takes a slot lease as a duration, and parses its own output again', () => {
    const policy = parsePolicy({ name: 'p', rules: [{ ...rule, limits: [{ algorithm: 'concurrency', limit: 3, slotLease: '30s' }] }] });
    expect(policy.rules[0]!.limits[0]).toMatchObject({ slotLease: 30_000, window: 30_000 });
    expect(parsePolicy(policy)).toEqual(policy);
  });

  it('combines with window limits in one rule', () => {
    const policy = parsePolicy({
      name: 'p',
      rules: [
        {
          ...rule,
          limits: [
            { limit: 10, window: '1m' },
            { algorithm: 'concurrency', limit: 2 },
          ],
        },
      ],
    });
    expect(compilePolicy(policy).rules[0]!.limits.map((l) => l.id)).toEqual(['reports/1m', 'reports/concurrent']);
  });

  it('refuses a window, naming the field', () => {
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, window: '1m' }])).toContain(
      'rules[0] "reports".limits[0].window: a concurrency limit counts requests in flight, not per window: give slotLease',
    );
  });

  it('refuses slotLease on a window limit, and a slot lease out of bounds', () => {
    expect(issues({}, [{ limit: 2, window: '1m', slotLease: '30s' }])).toContain(
      'limits[0].slotLease: slotLease applies to concurrency limits only',
    );
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, slotLease: '2h' }])).toContain(
      'limits[0].slotLease: slotLease must be between 1s and 1h',
    );
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, slotLease: 'soon' }])).toContain('limits[0].slotLease: invalid duration');
  });

  it('refuses settings that do not apply to slots, naming each field', () => {
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, countWhen: { status: ['2xx'] } }])).toContain(
      'limits[0].countWhen: a slot is held until the response ends',
    );
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, burst: 3 }])).toContain(
      'limits[0].burst: burst applies to the gcra algorithm only',
    );
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, notify: [80] }])).toContain('limits[0].notify');
    expect(issues({}, [{ algorithm: 'concurrency', limit: 2, period: 'month' }])).toContain('limits[0].algorithm');
    expect(issues({}, [{ algorithm: 'concurrency', limit: -1 }])).toContain('limits[0].limit');
  });

  it('refuses a lease on a rule with a concurrency limit, naming the field', () => {
    const message = issues({ lease: { size: 10 } }, [
      { limit: 100, window: '1m' },
      { algorithm: 'concurrency', limit: 2 },
    ]);
    expect(message).toContain('rules[0] "reports".lease: leases cannot hold concurrency slots');
    expect(message).not.toContain('refills continuously');
  });

  it('refuses countResponses on a rule with a concurrency limit', () => {
    expect(issues({ countResponses: { status: [401] } })).toContain(
      'rules[0] "reports".countResponses: countResponses cannot be combined with concurrency limits',
    );
  });

  it('refuses concurrency as a backoff algorithm', () => {
    expect(issues({ backoff: { algorithm: 'concurrency', limit: 2, period: '10s', levels: 2 } })).toContain('backoff.algorithm');
  });
});
