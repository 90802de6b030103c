import type { Policy } from '../policy/schema';

/**
 * Why a policy would never use an identity record with this tier, or
 * `undefined` when it would: the policy must read identity records
 * (`identity.records`), and the tier must be one the policy names (a rule's
 * `match.tiers`, the default tier, a prefix's tier), unless a rule is keyed
 * by the tier itself.
 */
export function unusedIdentityReason(policy: Policy, tier: string): { field: string; reason: string } | undefined {
  if (!policy.identity?.records)
    return {
      field: '(body)',
      reason: `policy "${policy.name}" reads no identity records (identity.records is not set), so this record would never be used`,
    };
  const keyedByTier = policy.rules.some((r) =>
    (r.key ?? []).some((p) => typeof p === 'object' && p !== null && 'identity' in p && p.identity === 'tier'),
  );
  if (keyedByTier) return undefined;
  const tiers = knownTiers(policy);
  if (tiers.has(tier)) return undefined;
  return { field: 'tier', reason: `policy "${policy.name}" has no tier "${tier}" (tiers: ${[...tiers].sort().join(', ')})` };
}

/** Every tier a policy names. */
function knownTiers(policy: Policy): Set<string> {
  const tiers = new Set<string>();
  if (policy.identity) {
    tiers.add(policy.identity.defaultTier);
    for (const p of policy.identity.prefixes) tiers.add(p.tier);
  }
  for (const rule of policy.rules) for (const t of rule.match?.tiers ?? []) tiers.add(t);
  tiers.delete('anonymous');
  return tiers;
}
