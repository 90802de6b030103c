import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { duplicateLimitNames } from '../policy/limit-names';
import { limitSchema } from '../policy/schema';

/**
 * The KV layout of live configuration, in the `RATE_LIMIT_CONFIG` namespace.
 *
 * Overrides: `override:<rule>:<kind>:<value>`
 * - `<rule>`: a rule name, or `*` for every rule;
 * - `<kind>:<value>`: `key:` the rule's key as the limiter derives it (an
 *   address, an IPv6 /64 such as `2001:db8:1:2::/64`, a credential's SHA-256
 *   hex, a header's SHA-256 hex, an identity field; parts of a composite key
 *   joined with `|`), `subject:` the caller's identity subject, or `org:`
 *   their organisation. A value ending in `*` matches every value starting
 *   with what precedes it.
 * - value: `{"limits": [{"limit": 50000, "window": "1h"}], "expires"?, "reason"?}`
 *   or `{"exempt": true, "expires"?, "reason"?}`.
 *
 * List entries: `list:<allow|block>:<ip|country|asn|credential>:<value>`, value
 * `{"reason"?, "expires"?}` (`{}` will do).
 */
export const OVERRIDE_PREFIX = 'override:';
export const LIST_PREFIX = 'list:';

export const TARGET_KINDS = ['key', 'subject', 'org'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
export const LIST_NAMES = ['allow', 'block'] as const;
export type ListName = (typeof LIST_NAMES)[number];
export const LIST_KINDS = ['ip', 'country', 'asn', 'credential'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

const expiresSchema = z.iso.datetime({ offset: true, error: 'expires is an ISO 8601 time such as "2026-12-31T00:00:00Z"' }).optional();
const reasonSchema = z.string().max(500).optional();

const exemptSchema = z.strictObject({ exempt: z.literal(true), expires: expiresSchema, reason: reasonSchema });
const replaceSchema = z
  .strictObject({ limits: z.array(limitSchema).min(1).max(16), expires: expiresSchema, reason: reasonSchema })
  .superRefine((value, ctx) => {
    for (const { index, message } of duplicateLimitNames(value.limits))
      ctx.addIssue({ code: 'custom', message, path: ['limits', index, 'name'] });
  });

/** The JSON value of an override: replaced limits, or an exemption. */
export const overrideValueSchema = z.union([exemptSchema, replaceSchema]);
export type OverrideValue = z.output<typeof overrideValueSchema>;

/** Validates an override's value against the form it claims (`exempt` or `limits`), so errors name the field at fault. */
export function parseOverrideValue(raw: unknown) {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return overrideValueSchema.safeParse(raw, {
      error: () => 'an override is {"limits": [...]} or {"exempt": true}, with optional "expires" and "reason"',
    });
  }
  return 'exempt' in raw ? exemptSchema.safeParse(raw) : replaceSchema.safeParse(raw);
}

/** The JSON value of a list entry. */
export const listValueSchema = z.strictObject({ expires: expiresSchema, reason: reasonSchema });
export type ListValue = z.output<typeof listValueSchema>;

const ruleNamePattern = /^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/;

export interface OverrideTarget {
  readonly rule: string;
  readonly kind: TargetKind;
  readonly value: string;
}

/** The KV key of an override. */
export const overrideKey = (t: OverrideTarget): string => `${OVERRIDE_PREFIX}${t.rule}:${t.kind}:${t.value}`;

/** `a:b:rest` after a prefix as `[a, b, rest]` (the value may hold colons, as IPv6 addresses do). */
function threeParts(key: string, prefix: string): [string, string, string] | undefined {
  const rest = key.slice(prefix.length);
  const first = rest.indexOf(':');
  const second = rest.indexOf(':', first + 1);
  if (first < 0 || second < 0) return undefined;
  return [rest.slice(0, first), rest.slice(first + 1, second), rest.slice(second + 1)];
}

/** Parses an override's KV key, or says what is wrong with it. */
export function parseOverrideKey(key: string): OverrideTarget | { error: string } {
  const parts = threeParts(key, OVERRIDE_PREFIX);
  if (!parts) return { error: 'override keys are override:<rule or *>:<key|subject|org>:<value>' };
  const [rule, kind, value] = parts;
  if (!ruleNamePattern.test(rule)) return { error: `"${rule}" is not a rule name or *` };
  if (!(TARGET_KINDS as readonly string[]).includes(kind)) return { error: `"${kind}" is not one of key, subject, org` };
  if (value.length === 0 || value.length > 400) return { error: 'the value is 1 to 400 characters' };
  return { rule, kind: kind as TargetKind, value };
}

export interface ListTarget {
  readonly list: ListName;
  readonly kind: ListKind;
  readonly value: string;
}

export const listKey = (t: ListTarget): string => `${LIST_PREFIX}${t.list}:${t.kind}:${t.value}`;

/** Checks a list entry's value for its kind: an address or CIDR range, a country code, an ASN, a SHA-256 digest. */
export function listValueError(kind: ListKind, value: string): string | undefined {
  switch (kind) {
    case 'ip':
      if (value.includes('/')) return ipaddr.isValidCIDR(value) ? undefined : `"${value}" is not an address range such as 203.0.113.0/24`;
      return ipaddr.isValid(value) ? undefined : `"${value}" is not an IPv4 or IPv6 address`;
    case 'country':
      return /^[A-Z]{2}$/.test(value) ? undefined : 'countries are ISO 3166 alpha-2 codes such as "DE"';
    case 'asn':
      return /^\d{1,10}$/.test(value) ? undefined : 'an ASN is a number';
    case 'credential':
      return /^[0-9a-f]{64}$/.test(value) ? undefined : 'credentials are listed by their SHA-256 hex digest';
  }
}

export function parseListKey(key: string): ListTarget | { error: string } {
  const parts = threeParts(key, LIST_PREFIX);
  if (!parts) return { error: 'list keys are list:<allow|block>:<ip|country|asn|credential>:<value>' };
  const [list, kind, value] = parts;
  if (!(LIST_NAMES as readonly string[]).includes(list)) return { error: `"${list}" is not allow or block` };
  if (!(LIST_KINDS as readonly string[]).includes(kind)) return { error: `"${kind}" is not one of ip, country, asn, credential` };
  const error = listValueError(kind as ListKind, value);
  return error ? { error } : { list: list as ListName, kind: kind as ListKind, value };
}

/**
 * Why a new entry's `expires` cannot be written: one already past would
 * never apply. Entries read from KV are not held to this (they expire as
 * time passes); an expired one is ignored.
 */
export function pastExpiry(value: { expires?: string | undefined }, now: number): string | undefined {
  return value.expires !== undefined && Date.parse(value.expires) <= now
    ? `expires ${value.expires} has passed: give a time after ${new Date(now).toISOString()}`
    : undefined;
}

/** Whether an entry's `expires` has passed. */
export const expired = (value: { expires?: string | undefined }, now: number): boolean =>
  value.expires !== undefined && Date.parse(value.expires) <= now;

/** Zod issues as `field: message` lines. */
export function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(value)'}: ${i.message}`);
}
