import type { CompiledLimit } from '../policy/compile';
import type { IdentityRecord } from './record';

/** A customer's billing as their identity record gives it. */
export interface Billing {
  readonly anchor?: string | undefined;
  readonly timeZone?: string | undefined;
  /** Plan limits by limit id (`<rule>/<limit name>`). */
  readonly limits?: Readonly<Record<string, number>> | undefined;
}

const billings = new WeakMap<IdentityRecord, Billing>();

/** The billing fields of an identity record, or `undefined` when it has none; the same object for the same (cached) record. */
export function billingOf(record: IdentityRecord): Billing | undefined {
  if (record.billingAnchor === undefined && record.timeZone === undefined && record.limits === undefined) return undefined;
  let billing = billings.get(record);
  if (!billing) billings.set(record, (billing = { anchor: record.billingAnchor, timeZone: record.timeZone, limits: record.limits }));
  return billing;
}

/** Billed copies of limits, per limit and billing, so a customer who keeps coming back gets the same objects. */
const billed = new WeakMap<CompiledLimit, WeakMap<Billing, CompiledLimit>>();

/**
 * The limits a customer runs with: calendar-period limits without an anchor
 * (or time zone) of their own take the customer's billing anchor (and time
 * zone), and the customer's plan limits replace the policy's, unless
 * `planLimits` is false (an operator's override, which wins over the plan).
 * A limit keeps its id, so a plan changed mid-period keeps the units used.
 * Returns `limits` itself when nothing changes.
 *
 * @example
 * billedLimits(rule.limits, { billing: { anchor: '2026-03-17', limits: { 'api/month': 200_000 } } }, true);
 */
export function billedLimits(
  limits: readonly CompiledLimit[],
  identity: { readonly billing?: Billing | undefined },
  planLimits: boolean,
): readonly CompiledLimit[] {
  const billing = identity.billing;
  if (!billing) return limits;
  let changed = false;
  const out = limits.map((limit) => {
    const bill = billLimit(limit, billing, planLimits);
    changed ||= bill !== limit;
    return bill;
  });
  return changed ? out : limits;
}

function billLimit(limit: CompiledLimit, billing: Billing, planLimits: boolean): CompiledLimit {
  const plan = planLimits ? billing.limits?.[limit.id] : undefined;
  const period = limit.config.period;
  const anchored =
    period !== undefined &&
    ((period.anchor === undefined && billing.anchor !== undefined) || (period.timeZone === undefined && billing.timeZone !== undefined));
  if (plan === undefined && !anchored) return limit;
  let byBilling = billed.get(limit);
  const known = byBilling?.get(billing);
  if (known) return known;
  const config = {
    ...limit.config,
    ...(plan !== undefined ? { limit: plan } : {}),
    ...(anchored
      ? { period: { unit: period.unit, anchor: period.anchor ?? billing.anchor, timeZone: period.timeZone ?? billing.timeZone } }
      : {}),
  };
  const next = Object.freeze({ ...limit, config });
  if (!byBilling) billed.set(limit, (byBilling = new WeakMap()));
  byBilling.set(billing, next);
  return next;
}
