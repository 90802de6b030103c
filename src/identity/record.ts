import { z } from 'zod';

/**
 * An identity record, as the API's backend writes it to KV when it issues a
 * credential: key `identity:<sha256 hex of the credential>`.
 *
 * @example
 * wrangler kv key put --binding RATE_LIMIT_CONFIG "identity:$(npm run -s hash-key -- 'rg_123')" \
 *   '{"subject":"user-42","org":"acme","tier":"pro"}'
 */
export const identityRecordSchema = z.strictObject({
  subject: z.string().min(1).max(256),
  org: z.string().min(1).max(256).optional(),
  tier: z.string().min(1).max(64),
});

export type IdentityRecord = z.infer<typeof identityRecordSchema>;

export const identityRow = (credentialHash: string): string => `identity:${credentialHash}`;
