import { z } from 'zod';
import type { RateLimiter } from '../durable-object/rate-limiter';
import type { RateLimitHandle } from '../http/middleware';
import { type IdentityRecord, identityRecordSchema, identityRow } from '../identity/record';
import { type DeliveryFailure, LAST_FAILURE_ROW, parseDeliveryFailure } from '../notifications/deliver';
import {
  issuesOf,
  LIST_KINDS,
  LIST_NAMES,
  type ListKind,
  type ListName,
  type ListTarget,
  type ListValue,
  listKey,
  listValueError,
  listValueSchema,
  type OverrideTarget,
  type OverrideValue,
  overrideKey,
  parseListKey,
  parseOverrideKey,
  parseOverrideValue,
  pastExpiry,
  TARGET_KINDS,
  type TargetKind,
} from '../overrides/entries';
import { LiveConfig, type LiveSnapshot } from '../overrides/live-config';
import { findOverride } from '../overrides/lookup';
import type { CompiledRule } from '../policy/compile';
import { sha256Hex } from '../request/credentials';
import { unusedIdentityReason } from './identity-use';
import { InvalidInput } from './invalid-input';
import { keyValueOf, objectName } from './key-address';
import { liftBan } from './lift-ban';
import { parseTopRefusedQuery, type RefusedKey, readTopRefused, type TopRefusedQuery } from './top-refused';
import { parseUsageQuery, readUsage, type UsageDay, type UsageQuery } from './usage';

export interface OperatorOptions {
  /** The limiter whose policy, counters and objects the operations work on. */
  readonly handle: RateLimitHandle;
  /** Durable Object binding of `RateLimiter`. */
  readonly binding: string;
  /** KV binding of live configuration. */
  readonly kvBinding: string;
  /** The clock. */
  readonly now: () => number;
}

/** How an operator names a key: `key`, `ip`, `credential`, `subject` or `org` (see `keyValueOf`). */
export type KeyQuery = Record<string, string | undefined>;

const identityInputSchema = z
  .strictObject({
    credential: z.string().min(1).max(4096).optional(),
    credentialHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'credentialHash is a SHA-256 hex digest')
      .optional(),
    subject: identityRecordSchema.shape.subject,
    org: identityRecordSchema.shape.org,
    tier: identityRecordSchema.shape.tier,
    billingAnchor: identityRecordSchema.shape.billingAnchor,
    timeZone: identityRecordSchema.shape.timeZone,
    limits: identityRecordSchema.shape.limits,
  })
  .refine((v) => (v.credential === undefined) !== (v.credentialHash === undefined), {
    message: 'give exactly one of credential and credentialHash',
    path: ['credential'],
  });

type Bindings = Record<string, unknown>;

/**
 * Every operator operation, validated and performed in one place: overrides,
 * allow and block list entries, identity records, and keys (inspect, reset,
 * lift a ban). The JSON API and the dashboard are faces over it. Bad input
 * throws `InvalidInput` naming the field; every write is one KV or object
 * operation, so nothing is half written, and the isolate's cached snapshot
 * is dropped so a write applies at once.
 *
 * @example
 * const operator = new Operator({ handle: limiter.handle, binding: 'RATE_LIMITER', kvBinding: 'RATE_LIMIT_CONFIG', now: Date.now });
 * await operator.putOverride(env, { rule: 'per-ip', kind: 'key', value: '192.0.2.7' }, { exempt: true });
 */
export class Operator {
  readonly #handle: RateLimitHandle;
  readonly #binding: string;
  readonly #kvBinding: string;
  readonly now: () => number;

  constructor(options: OperatorOptions) {
    this.#handle = options.handle;
    this.#binding = options.binding;
    this.#kvBinding = options.kvBinding;
    this.now = options.now;
  }

  get compiled() {
    return this.#handle.compiled;
  }

  // ---- live configuration --------------------------------------------------------------

  /** Live configuration as one read, or `undefined` without a KV binding. */
  /** The last failed delivery of a near-limit notification, if any (see `notifications/deliver`). */
  async lastNotificationFailure(env: Bindings): Promise<DeliveryFailure | undefined> {
    const kv = env[this.#kvBinding] as KVNamespace | undefined;
    return kv ? parseDeliveryFailure(await kv.get(LAST_FAILURE_ROW, 'text').catch(() => null)) : undefined;
  }

  async snapshot(env: Bindings): Promise<LiveSnapshot | undefined> {
    const kv = env[this.#kvBinding] as KVNamespace | undefined;
    return kv ? new LiveConfig().load(kv, this.now()) : undefined;
  }

  /** Checks an override's target: a rule of the policy or `*`, a kind, a value. */
  overrideTarget(rule: string, kind: string, value: string): OverrideTarget {
    if (rule !== '*') this.rule(rule);
    if (!(TARGET_KINDS as readonly string[]).includes(kind)) throw new InvalidInput(400, 'kind', 'kind is key, subject or org');
    if (value.length === 0 || value.length > 400) throw new InvalidInput(400, 'value', 'value is 1 to 400 characters');
    return { rule, kind: kind as TargetKind, value };
  }

  /** Writes an override (its value as JSON, validated) and answers its key and stored value. */
  async putOverride(env: Bindings, target: OverrideTarget, raw: unknown): Promise<{ key: string; value: OverrideValue }> {
    const parsed = parseOverrideValue(raw);
    if (!parsed.success) throw InvalidInput.fromZod(parsed.error);
    this.#notExpired(parsed.data);
    const key = overrideKey(target);
    await this.#put(env, key, parsed.data);
    return { key, value: parsed.data };
  }

  async deleteOverride(env: Bindings, target: OverrideTarget): Promise<string> {
    const key = overrideKey(target);
    await this.#delete(env, key);
    return key;
  }

  /** Deletes an override named by its KV key. */
  async deleteOverrideKey(env: Bindings, key: string): Promise<string> {
    const target = parseOverrideKey(key);
    if ('error' in target) throw new InvalidInput(400, 'key', target.error);
    return this.deleteOverride(env, target);
  }

  /** An entry written already expired would never apply: a 400 naming `expires`. */
  #notExpired(value: { readonly expires?: string | undefined }): void {
    const error = pastExpiry(value, this.now());
    if (error) throw new InvalidInput(400, 'expires', error);
  }

  /** Checks a list entry's target: a list, a kind, a value of that kind. */
  listTarget(list: string, kind: string, value: string): ListTarget {
    if (!(LIST_NAMES as readonly string[]).includes(list)) throw new InvalidInput(400, 'list', 'list is allow or block');
    if (!(LIST_KINDS as readonly string[]).includes(kind)) throw new InvalidInput(400, 'kind', 'kind is ip, country, asn or credential');
    const error = listValueError(kind as ListKind, value);
    if (error) throw new InvalidInput(400, 'value', error);
    return { list: list as ListName, kind: kind as ListKind, value };
  }

  async putListEntry(env: Bindings, target: ListTarget, raw: unknown): Promise<{ key: string; value: ListValue }> {
    const parsed = listValueSchema.safeParse(raw);
    if (!parsed.success) throw InvalidInput.fromZod(parsed.error);
    this.#notExpired(parsed.data);
    const key = listKey(target);
    await this.#put(env, key, parsed.data);
    return { key, value: parsed.data };
  }

  async deleteListEntry(env: Bindings, target: ListTarget): Promise<string> {
    const key = listKey(target);
    await this.#delete(env, key);
    return key;
  }

  /** Deletes a list entry named by its KV key. */
  async deleteListKey(env: Bindings, key: string): Promise<string> {
    const target = parseListKey(key);
    if ('error' in target) throw new InvalidInput(400, 'key', target.error);
    return this.deleteListEntry(env, target);
  }

  // ---- identity records ----------------------------------------------------------------

  /**
   * Writes an identity record for a credential (hashed here, never stored)
   * or its digest. A record the policy would never use (it reads no records,
   * or has no such tier) is refused.
   */
  async putIdentity(env: Bindings, raw: unknown): Promise<{ credentialHash: string } & IdentityRecord> {
    const parsed = identityInputSchema.safeParse(raw);
    if (!parsed.success) throw InvalidInput.fromZod(parsed.error);
    const { credential, credentialHash, ...record } = parsed.data;
    const unused = unusedIdentityReason(this.compiled.policy, record.tier);
    if (unused) throw new InvalidInput(400, unused.field, unused.reason);
    const hash = credentialHash ?? (await sha256Hex(credential!));
    await this.#kv(env).put(identityRow(hash), JSON.stringify(record));
    this.#handle.limiter.identityChanged(hash);
    return { credentialHash: hash, ...record };
  }

  /** The identity record of a credential digest: `null` when there is none, its errors when it is malformed (the limiter ignores it). */
  async identity(
    env: Bindings,
    hash: string,
  ): Promise<({ credentialHash: string } & IdentityRecord) | { credentialHash: string; malformed: string[] } | null> {
    const text = await this.#kv(env).get(identityRow(checkHash(hash)), 'text');
    if (text === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { credentialHash: hash, malformed: ['(value): not JSON'] };
    }
    const parsed = identityRecordSchema.safeParse(json);
    return parsed.success ? { credentialHash: hash, ...parsed.data } : { credentialHash: hash, malformed: issuesOf(parsed.error) };
  }

  async deleteIdentity(env: Bindings, hash: string): Promise<string> {
    const row = identityRow(checkHash(hash));
    await this.#kv(env).delete(row);
    this.#handle.limiter.identityChanged(hash);
    return row;
  }

  // ---- keys ----------------------------------------------------------------------------

  /** A rule of the policy by name. */
  rule(name: string): CompiledRule {
    const rule = this.compiled.rules.find((r) => r.name === name);
    if (!rule)
      throw new InvalidInput(
        400,
        'rule',
        `no rule "${name}" in policy "${this.compiled.policy.name}" (rules: ${this.compiled.rules.map((r) => r.name).join(', ')})`,
      );
    return rule;
  }

  /** The rule, key value and object an operator's query names. */
  async key(ruleName: string, query: KeyQuery): Promise<{ rule: CompiledRule; value: string; object: string }> {
    const rule = this.rule(ruleName);
    const value = await keyValueOf(rule, this.compiled.policy, query);
    return { rule, value, object: objectName(rule, value) };
  }

  /**
   * A customer's usage per day (allowed and refused requests, cost units)
   * from the limiter's Analytics Engine points: `subject` or `org`, `from`,
   * `to`, `format`. Throws `UsageUnavailable` where the SQL API is not
   * configured or fails.
   */
  async usage(env: Bindings, query: Record<string, string | undefined>): Promise<{ query: UsageQuery; days: UsageDay[] }> {
    const parsed = parseUsageQuery(query, this.now());
    return { query: parsed, days: await readUsage(env, parsed) };
  }

  /**
   * The most refused keys per rule across the deployment, by key digest,
   * from the limiter's Analytics Engine points: `from`, `to`, `rule`,
   * `limit`. Throws `InvalidInput` naming a bad field, `UsageUnavailable`
   * where the SQL API is not configured or fails.
   */
  async topRefused(env: Bindings, query: Record<string, string | undefined>): Promise<{ query: TopRefusedQuery; keys: RefusedKey[] }> {
    const rules = this.compiled.rules.map((r) => r.name);
    const parsed = parseTopRefusedQuery(query, this.now(), rules);
    return { query: parsed, keys: await readTopRefused(env, parsed, rules) };
  }

  /** A key's live counters, bans and the override that applies to it. */
  async inspectKey(env: Bindings, ruleName: string, query: KeyQuery) {
    const { rule, value, object } = await this.key(ruleName, query);
    const at = this.now();
    const snapshot = await this.#stub(env, object).inspect(at);
    const live = await this.snapshot(env);
    const override =
      live &&
      findOverride(
        live,
        rule.name,
        value,
        { tier: '', source: 'default', ...(query.subject ? { subject: query.subject } : {}), ...(query.org ? { org: query.org } : {}) },
        at,
      );
    return {
      rule: rule.name,
      key: value,
      object,
      limits: snapshot.limits
        .filter((l) => l.id.startsWith(`${rule.name}/`))
        .map((l) => ({
          id: l.id,
          algorithm: l.config.algorithm,
          limit: l.decision.limit,
          windowMs: l.config.windowMs,
          used: l.decision.used,
          remaining: l.decision.remaining,
          resetAt: new Date(l.decision.resetAt).toISOString(),
          // A concurrency limit: requests in flight now; `windowMs` is its slot lease.
          ...(l.config.algorithm === 'concurrency' ? { inFlight: l.decision.used } : {}),
        })),
      bans: snapshot.bans
        .filter((b) => b.rule === rule.name)
        .map((b) => ({ ...b, bannedUntil: b.bannedUntil > at ? new Date(b.bannedUntil).toISOString() : null })),
      override: override ? { key: override.key, ...override.value_ } : null,
    };
  }

  /** Resets a key's counters; answers the object reset. */
  async resetKey(env: Bindings, ruleName: string, query: KeyQuery): Promise<string> {
    const { object } = await this.key(ruleName, query);
    await this.#stub(env, object).reset();
    this.#handle.limiter.keysChanged();
    return object;
  }

  /** Lifts a rule's ban on a key, and takes an address a `blockAddress` ban blocked off the block list. */
  async liftBan(env: Bindings, ruleName: string, query: KeyQuery): Promise<{ lifted: number; unblocked?: string; key: string }> {
    const { rule, value, object } = await this.key(ruleName, query);
    const result = await liftBan(this.#stub(env, object), rule, value, env[this.#kvBinding] as KVNamespace | undefined, () =>
      this.#handle.limiter.liveChanged(),
    );
    this.#handle.limiter.keysChanged();
    return { ...result, key: value };
  }

  // ---- storage -------------------------------------------------------------------------

  #kv(env: Bindings): KVNamespace {
    const kv = env[this.#kvBinding] as KVNamespace | undefined;
    if (!kv) throw new InvalidInput(400, '(config)', `no KV binding "${this.#kvBinding}": live configuration is unavailable`);
    return kv;
  }

  #stub(env: Bindings, name: string) {
    return (env[this.#binding] as DurableObjectNamespace<RateLimiter>).getByName(name);
  }

  async #put(env: Bindings, key: string, value: unknown): Promise<void> {
    checkKeySize(key);
    await this.#kv(env).put(key, JSON.stringify(value));
    this.#handle.limiter.liveChanged();
  }

  async #delete(env: Bindings, key: string): Promise<void> {
    checkKeySize(key);
    await this.#kv(env).delete(key);
    this.#handle.limiter.liveChanged();
  }
}

/** KV refuses keys over 512 bytes: a value that long is the caller's fault, named as such. */
function checkKeySize(key: string): void {
  if (new TextEncoder().encode(key).length > 512)
    throw new InvalidInput(400, 'value', "the entry's KV key would be over 512 bytes: use a shorter value");
}

function checkHash(hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new InvalidInput(400, 'hash', 'the credential is named by its SHA-256 hex digest');
  return hash;
}
