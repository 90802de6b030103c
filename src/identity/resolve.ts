import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { CachedKvReader } from '../kv/cached-reader';
import type { IdentitySettings } from '../policy/schema';
import { authorizationValue, basicUser, bearerToken, headerValue, sha256Hex } from '../request/credentials';
import { type Billing, billingOf } from './billing';
import { type IdentityRecord, identityRecordSchema, identityRow } from './record';

/** Who is calling, as far as the limiter can tell. */
export interface Identity {
  /** SHA-256 of the credential, or undefined for anonymous callers. */
  readonly credentialHash?: string;
  /** A stable subject: from a record or JWT claim, else the credential hash. */
  readonly subject?: string;
  readonly org?: string;
  /** `anonymous` without a credential; otherwise the tier found, or the policy's default. */
  readonly tier: string;
  /** How the tier was found. */
  readonly source: 'anonymous' | 'record' | 'jwt' | 'prefix' | 'default';
  /** The customer's billing, from their identity record (see `billedLimits`). */
  readonly billing?: Billing;
}

export const ANONYMOUS: Identity = Object.freeze({ tier: 'anonymous', source: 'anonymous' });

/** Identity records read from KV, cached per isolate; one reader per limiter, so a change is forgotten where it was made. */
export class IdentityRecords {
  readonly #reader = new CachedKvReader<IdentityRecord>({
    ttlMs: 60_000,
    timeoutMs: 50,
    validate: (raw) => {
      const result = identityRecordSchema.safeParse(raw);
      return result.success
        ? { ok: true, value: result.data }
        : { ok: false, error: result.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ') };
    },
  });

  get(kv: KVNamespace | undefined, credentialHash: string, now: number): Promise<IdentityRecord | undefined> {
    return this.#reader.get(kv, identityRow(credentialHash), now);
  }

  /** Drops a cached record after the operator changes it. */
  forget(credentialHash: string): void {
    this.#reader.forget(identityRow(credentialHash));
  }
}

/** A policy's identity settings with their token patterns compiled once, when the policy is. */
export interface CompiledIdentity {
  readonly settings: IdentitySettings;
  /** `settings.prefixes` in order, each as a test of a credential. */
  readonly tiers: ReadonlyArray<{ readonly tier: string; readonly test: (credential: string) => boolean }>;
}

/** Compiles the token prefixes and patterns of identity settings. */
export function compileIdentity(settings: IdentitySettings): CompiledIdentity {
  const tiers = settings.prefixes.map((p) => {
    const pattern = p.pattern !== undefined ? new RegExp(p.pattern) : undefined;
    const prefix = p.prefix;
    return {
      tier: p.tier,
      test: (credential: string) =>
        (prefix !== undefined && credential.startsWith(prefix)) || (pattern !== undefined && pattern.test(credential)),
    };
  });
  return { settings, tiers };
}

const jwksSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

export function credentialOf(headers: Headers, settings: IdentitySettings): string | undefined {
  const c = settings.credential;
  if (c === 'bearer') return bearerToken(headers);
  if (c === 'basic-user') return basicUser(headers);
  if (c === 'authorization') return authorizationValue(headers);
  return headerValue(headers, c.header);
}

function claim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 256
    ? value
    : typeof value === 'number'
      ? String(value)
      : undefined;
}

async function verifyJwt(
  token: string,
  settings: NonNullable<IdentitySettings['jwt']>,
  secrets: Record<string, unknown>,
): Promise<JWTPayload | undefined> {
  if (token.split('.').length !== 3) return undefined;
  const options = {
    algorithms: settings.algorithms,
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  try {
    if (settings.secretBinding) {
      const secret = secrets[settings.secretBinding];
      if (typeof secret !== 'string' || secret.length === 0) return undefined;
      return (await jwtVerify(token, new TextEncoder().encode(secret), options)).payload;
    }
    const url = settings.jwksUrl!;
    let set = jwksSets.get(url);
    if (!set) {
      set = createRemoteJWKSet(new URL(url));
      jwksSets.set(url, set);
    }
    return (await jwtVerify(token, set, options)).payload;
  } catch {
    // Unsigned (`alg: none`), badly signed, expired or not-yet-valid tokens are not identities.
    return undefined;
  }
}

/** Reads the caller of a request: the policy's identity settings over one set of bindings' records and secrets. */
export type IdentityReader = (headers: Headers, now: number) => Promise<Identity>;

/**
 * Resolves the caller's identity, trying in order: a KV identity record for
 * the hashed credential, verified JWT claims, the token's prefix or pattern.
 * A credential none of them recognises gets the policy's default tier;
 * no credential is `anonymous`. Never throws.
 */
export async function resolveIdentity(
  headers: Headers,
  identity: CompiledIdentity,
  env: { kv?: KVNamespace | undefined; secrets: Record<string, unknown>; records?: IdentityRecords | undefined },
  now: number,
): Promise<Identity> {
  const { settings } = identity;
  const credential = credentialOf(headers, settings);
  if (credential === undefined) return ANONYMOUS;
  const credentialHash = await sha256Hex(credential);

  if (settings.records && env.records) {
    const record = await env.records.get(env.kv, credentialHash, now);
    if (record) {
      const billing = billingOf(record);
      return {
        credentialHash,
        subject: record.subject,
        ...(record.org ? { org: record.org } : {}),
        tier: record.tier,
        source: 'record',
        ...(billing ? { billing } : {}),
      };
    }
  }
  if (settings.jwt) {
    const payload = await verifyJwt(credential, settings.jwt, env.secrets);
    if (payload) {
      const org = claim(payload, settings.jwt.orgClaim);
      return {
        credentialHash,
        subject: claim(payload, settings.jwt.subjectClaim) ?? credentialHash,
        ...(org ? { org } : {}),
        tier: claim(payload, settings.jwt.tierClaim) ?? settings.defaultTier,
        source: 'jwt',
      };
    }
  }
  for (const p of identity.tiers) {
    if (p.test(credential)) return { credentialHash, subject: credentialHash, tier: p.tier, source: 'prefix' };
  }
  return { credentialHash, subject: credentialHash, tier: settings.defaultTier, source: 'default' };
}
