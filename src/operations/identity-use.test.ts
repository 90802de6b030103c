import { describe, expect, it } from 'vitest';
import { definePolicy } from '../policy/parse';
import cloudsmith from '../presets/cloudsmith';
import defaultPolicy from '../presets/default';
import { unusedIdentityReason } from './identity-use';

describe('unusedIdentityReason', () => {
  it('names a policy that reads no identity records, whatever the tier', () => {
    expect(unusedIdentityReason(defaultPolicy, 'token')).toEqual({
      field: '(body)',
      reason: 'policy "default" reads no identity records (identity.records is not set), so this record would never be used',
    });
  });

  it("accepts a tier the policy names, and names the policy's tiers for one it does not", () => {
    expect(unusedIdentityReason(cloudsmith, 'pro')).toBeUndefined();
    expect(unusedIdentityReason(cloudsmith, 'core')).toBeUndefined();
    expect(unusedIdentityReason(cloudsmith, 'pr0')).toEqual({
      field: 'tier',
      reason: 'policy "cloudsmith" has no tier "pr0" (tiers: core, enterprise, pro, ultra, velocity)',
    });
  });

  it('accepts any tier when a rule is keyed by the tier itself', () => {
    const byTier = definePolicy({
      name: 'by-tier',
      identity: { credential: 'bearer', records: true },
      rules: [{ name: 'per-tier', key: { identity: 'tier' }, limits: [{ limit: 5, window: '1m' }] }],
    });
    expect(unusedIdentityReason(byTier, 'anything')).toBeUndefined();
  });
});
