import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../policy/compile';
import { parsePolicy } from '../policy/parse';
import { billedLimits, billingOf } from './billing';

const compiled = compilePolicy(
  parsePolicy({
    name: 'p',
    rules: [
      {
        name: 'api',
        key: 'ip',
        limits: [
          { limit: 10, window: '1m' },
          { limit: 1000, period: 'month' },
          { name: 'fixed', limit: 50, period: { unit: 'week', anchor: '2026-01-01', timeZone: 'Europe/Berlin' } },
        ],
      },
    ],
  }),
);
const limits = compiled.rules[0]!.limits;

describe('billedLimits', () => {
  it('returns the policy limits themselves for a caller without billing', () => {
    expect(billedLimits(limits, {}, true)).toBe(limits);
  });

  it("anchors calendar limits without an anchor of their own to the customer's, in their zone, and sets plan limits by id", () => {
    const billing = billingOf({
      subject: 's',
      tier: 'pro',
      billingAnchor: '2026-03-17T00:00:00Z',
      timeZone: 'America/New_York',
      limits: { 'api/month': 5000, 'api/1m': 20 },
    })!;
    const [minute, month, fixed] = billedLimits(limits, { billing }, true);
    expect(minute!.config).toEqual({ ...limits[0]!.config, limit: 20 });
    expect(month!.config).toEqual({
      algorithm: 'fixed-window',
      limit: 5000,
      windowMs: 30 * 86_400_000,
      period: { unit: 'month', anchor: '2026-03-17T00:00:00Z', timeZone: 'America/New_York' },
    });
    // A limit that names its own anchor and zone keeps them.
    expect(fixed).toBe(limits[2]);
    // Ids stay, so counts carry over; the same customer gets the same objects.
    expect(month!.id).toBe('api/month');
    expect(billedLimits(limits, { billing }, true)[1]).toBe(month);
  });

  it("leaves plan limits to an operator's override, but still applies the anchor", () => {
    const billing = billingOf({ subject: 's', tier: 'pro', billingAnchor: '2026-03-17', limits: { 'api/month': 5000 } })!;
    const [, month] = billedLimits(limits, { billing }, false);
    expect(month!.config.limit).toBe(1000);
    expect(month!.config.period).toEqual({ unit: 'month', anchor: '2026-03-17', timeZone: undefined });
  });

  it('a record without billing fields has no billing', () => {
    expect(billingOf({ subject: 's', tier: 'pro' })).toBeUndefined();
  });
});
