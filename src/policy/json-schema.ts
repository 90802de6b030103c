import { z } from 'zod';
import {
  backoffSchema,
  banSchema,
  costSchema,
  countWhenSchema,
  forwardClientAddressSchema,
  identitySchema,
  keyPartSchema,
  leaseSchema,
  limitSchema,
  listSchema,
  matchSchema,
  onErrorSchema,
  policySchema,
  responseCostSchema,
  responseSchema,
  ruleSchema,
} from './schema';

/** Hover text for the policy's parts, attached only to the JSON Schema (the zod schema stays as it is). */
const DESCRIPTIONS: ReadonlyArray<[z.ZodType, string]> = [
  [policySchema, 'An edge-ratelimit policy: rules that each derive a key from a request and limit it.'],
  [ruleSchema, 'A rule: which requests (match), counted under which key, against which limits.'],
  [
    limitSchema,
    'One limit: `limit` units per `window` (milliseconds or text such as "30s", "5m", "1d"), counted by `algorithm`; or per calendar `period` ("day", "week", "month", "year", or { unit, anchor, timeZone }) instead of a window.',
  ],
  [
    keyPartSchema,
    'A key part: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity } or { const }. Credentials are hashed.',
  ],
  [matchSchema, 'Which requests the rule applies to; every listed condition must hold, an omitted one always holds.'],
  [backoffSchema, 'Exponential layers: level n admits `limit × n` requests per `period ^ n` seconds.'],
  [banSchema, '`after` refusals within `within` ban the key for `duration`.'],
  [costSchema, 'Units a request spends: a constant, or read from a header (bounded by `max`).'],
  [
    responseCostSchema,
    "Cost reported by the origin: the response header `header` says what the request cost; admitted on the rule's `cost`, the difference is charged or given back when the response arrives (at most `max` units; a missing or malformed value keeps the advance). The header is removed unless `keep`.",
  ],
  [countWhenSchema, 'Count only responses whose status matches (reserved before the origin, given back otherwise).'],
  [leaseSchema, 'Hot-key leases: the key object lends isolates budgets of up to `size` units for at most `ttl`.'],
  [responseSchema, 'How refusals and rate-limit headers look.'],
  [onErrorSchema, "What to do when the key's Durable Object fails or is slow: fail open or closed after `timeoutMs`."],
  [listSchema, 'Requests matched by any listed address (or CIDR), country, ASN or credential digest.'],
  [identitySchema, "Where a caller's credential comes from and how it maps to an identity and tier."],
  [
    forwardClientAddressSchema,
    "Headers that tell the origin the client address the limiter used (default X-Forwarded-For and X-Real-IP); the client's own values are dropped first. `[]` sends none; `false` leaves them as the client sent them.",
  ],
];

/**
 * The JSON Schema (draft 2020-12) of a policy as written, generated from the
 * same zod schema that validates it, so editors validate and complete JSON
 * policies. Checks that need code (durations, unique names, addresses) are
 * left to `parsePolicy`.
 */
export function policyJsonSchema(): Record<string, unknown> {
  const registry = z.registry<{ description: string }>();
  for (const [schema, description] of DESCRIPTIONS) registry.add(schema, { description });
  const generated = z.toJSONSchema(policySchema, { io: 'input', metadata: registry, unrepresentable: 'any' });
  return { ...generated, title: 'edge-ratelimit policy' };
}
