import { describe, expect, it } from 'vitest';
import { parsePolicy } from './parse';
import { policyErrorOf } from './test-support';

const rule = { name: 'hot', key: 'ip', limits: [{ limit: 1000, window: '1m' }] };

/** The message parsing a policy of `rule` with `limits` and `extra` throws; '' when it parses. */
const issues = (extra: Record<string, unknown>, limits: unknown[] = rule.limits) =>
  policyErrorOf({ name: 'p', rules: [{ ...rule, limits, ...extra }] })?.message ?? '';

describe('lease in a policy', () => {
  it('accepts a lease on window limits, with a one-second ttl by default', () => {
    const policy = parsePolicy({ name: 'p', rules: [{ ...rule, lease: { size: 50 } }] });
    expect(policy.rules[0]!.lease).toEqual({ size: 50, ttl: 1000 });
  });

  it('refuses a lease on a GCRA limit, saying why', () => {
    expect(issues({ lease: { size: 10 } }, [{ algorithm: 'gcra', limit: 10, window: '1s' }])).toContain(
      'rules[0] "hot".lease: leases need fixed-window or sliding-window limits: a gcra bucket refills continuously',
    );
  });

  it('refuses a lease where refusals or responses must reach the object', () => {
    expect(issues({ lease: { size: 10 }, countRefused: true })).toContain('leases cannot be combined with countRefused');
    expect(issues({ lease: { size: 10 }, ban: { after: 3, within: '1m', duration: '1h' } })).toContain(
      'leases cannot be combined with ban',
    );
    expect(issues({ lease: { size: 10 }, shadow: true })).toContain('leases cannot be combined with shadow');
    expect(issues({ lease: { size: 10 } }, [{ limit: 5, window: '1m', countWhen: { status: ['2xx'] } }])).toContain(
      'leases cannot be combined with countWhen',
    );
  });

  it('bounds size and ttl', () => {
    expect(issues({ lease: { size: 0 } })).toContain('lease.size');
    expect(issues({ lease: { size: 5, ttl: '2m' } })).toContain('lease ttl must be at most 60s');
    expect(issues({ lease: { size: 5, extra: 1 } })).toContain('unknown field(s) "extra"');
  });
});
