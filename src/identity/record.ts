import { z } from 'zod';
import { anchorSchema, timeZoneSchema } from '../policy/schema';

/**
 * An identity record, as the API's backend writes it to KV when it issues a
 * credential: key `identity:<sha256 hex of the credential>`.
 *
 * @example
 * wrangler kv key put --binding RATE_LIMIT_CONFIG "identity:$(npm run -s hash-key -- 'rg_123')" \
 *   '{"subject":"user-42","org":"acme","tier":"pro"}'
 *
 * A paying customer's record may also carry their billing: calendar-period
 * limits without an anchor of their own reset on `billingAnchor` (read in
 * `timeZone`, UTC without it), and `limits` sets their plan's limits by
 * `<rule>/<limit name>`:
 *   '{"subject":"user-42","tier":"pro","billingAnchor":"2026-03-17T00:00:00Z","limits":{"api/month":100000}}'
 */
export const identityRecordSchema = z.strictObject({
  subject: z.string().min(1).max(256),
  org: z.string().min(1).max(256).optional(),
  tier: z.string().min(1).max(64),
  /** Where the customer's calendar periods start: their billing date (see `CalendarPeriod.anchor`). */
  billingAnchor: anchorSchema.optional(),
  /** The time zone their calendar periods follow, e.g. `America/New_York`. */
  timeZone: timeZoneSchema.optional(),
  /** Their plan's limits by `<rule>/<limit name>`, replacing the policy's; units already used in the period stay used. */
  limits: z
    .record(
      z
        .string()
        .regex(
          /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
          'plan limits are named "<rule>/<limit name>", e.g. "api/month"',
        ),
      z.number().int().min(0).max(1e12),
    )
    .optional(),
});

export type IdentityRecord = z.infer<typeof identityRecordSchema>;

export const identityRow = (credentialHash: string): string => `identity:${credentialHash}`;
