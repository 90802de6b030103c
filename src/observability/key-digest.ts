import { logEvent } from './log';

/** The Worker secret that keys the digests (`wrangler secret put KEY_DIGEST_SECRET`). */
export const KEY_DIGEST_SECRET = 'KEY_DIGEST_SECRET';

/** The shortest secret taken, in UTF-8 bytes: HMAC-SHA-256's own output length (RFC 2104 §3). */
export const KEY_DIGEST_SECRET_MIN_BYTES = 32;

/** Digests a digester remembers: a flood of refusals asks for the same few keys. */
const REMEMBERED = 10_000;

const encoder = new TextEncoder();

/**
 * The short, non-reversible name of a key in logs, Analytics Engine points,
 * the traffic record and threshold notices: 16 hex digits, the same for one
 * key wherever it is written (in every isolate and object, across restarts)
 * as long as the secret stays the same.
 */
export interface KeyDigester {
  /** Whether the digests are keyed by {@link KEY_DIGEST_SECRET}; unkeyed ones can be reversed where keys are few (IPv4 addresses). */
  readonly keyed: boolean;
  /**
   * The digest of a key's object name, `<key signature>=<key value>`. Keys
   * asked for lately are answered at once, without a promise.
   */
  digest(name: string): string | Promise<string>;
}

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes, 0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Digests by a hash of the name alone, or by an HMAC of it; the latest names' digests are remembered. */
class Digester implements KeyDigester {
  readonly keyed: boolean;
  readonly #known = new Map<string, string>();
  readonly #hash: (data: Uint8Array) => Promise<ArrayBuffer>;

  constructor(keyed: boolean, hash: (data: Uint8Array) => Promise<ArrayBuffer>) {
    this.keyed = keyed;
    this.#hash = hash;
  }

  digest(name: string): string | Promise<string> {
    const known = this.#known.get(name);
    return known !== undefined ? known : this.#digestOf(name);
  }

  async #digestOf(name: string): Promise<string> {
    const short = hex(await this.#hash(encoder.encode(name)));
    if (this.#known.size >= REMEMBERED) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(name, short);
    return short;
  }
}

let unkeyedNoticed = false;

/** SHA-256 of the name alone: for deployments without the secret, said once per isolate when first used. */
const UNKEYED: KeyDigester = new Digester(false, (data) => {
  if (!unkeyedNoticed) {
    unkeyedNoticed = true;
    logEvent('key_digest_unkeyed', {
      secret: KEY_DIGEST_SECRET,
      detail: `key digests are unkeyed SHA-256, which can be reversed by hashing every value of a small key space (an IPv4 address); set the Worker secret ${KEY_DIGEST_SECRET} (wrangler secret put ${KEY_DIGEST_SECRET}, at least ${KEY_DIGEST_SECRET_MIN_BYTES} random bytes) to key them`,
    });
  }
  return crypto.subtle.digest('SHA-256', data);
});

/** HMAC-SHA-256 under `secret`; the key is imported on first use, once. */
function hmacDigester(secret: string): KeyDigester {
  let imported: CryptoKey | undefined;
  let importing: Promise<CryptoKey> | undefined;
  const key = () =>
    (importing ??= crypto.subtle
      .importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
      .then((k) => (imported = k)));
  return new Digester(true, async (data) => crypto.subtle.sign('HMAC', imported ?? (await key()), data));
}

/** Why a secret is not taken, or `undefined` when it is. */
function secretError(secret: unknown): string | undefined {
  if (typeof secret !== 'string') return `${KEY_DIGEST_SECRET} is not a string`;
  if (encoder.encode(secret).length < KEY_DIGEST_SECRET_MIN_BYTES)
    return `${KEY_DIGEST_SECRET} is shorter than ${KEY_DIGEST_SECRET_MIN_BYTES} bytes`;
  return undefined;
}

// The digester of the secret last asked for: one secret per deployment, so its key is imported once per isolate.
let latest: { readonly secret: unknown; readonly digester: KeyDigester } | undefined;

/**
 * The digester for a {@link KEY_DIGEST_SECRET} value: HMAC-SHA-256 keyed by
 * it, or the unkeyed SHA-256 digest when it is unset. A secret that is not a
 * string of at least {@link KEY_DIGEST_SECRET_MIN_BYTES} bytes is logged
 * (`key_digest_secret_invalid`, never its value) and treated as unset:
 * requests are decided all the same. The same secret gives the same
 * digester, whose HMAC key is imported once.
 *
 * @example
 * const digester = keyDigester(env.KEY_DIGEST_SECRET);
 * await digester.digest('ip=192.0.2.1'); // 16 hex digits
 */
export function keyDigester(secret: unknown): KeyDigester {
  if (secret === undefined || secret === null) return UNKEYED;
  if (latest?.secret !== secret) {
    const error = secretError(secret);
    if (error)
      logEvent('key_digest_secret_invalid', {
        secret: KEY_DIGEST_SECRET,
        detail: `${error}: key digests stay unkeyed until it is set to at least ${KEY_DIGEST_SECRET_MIN_BYTES} random bytes (openssl rand -hex 32)`,
      });
    latest = { secret, digester: error ? UNKEYED : hmacDigester(secret as string) };
  }
  return latest.digester;
}

/**
 * The digester of a set of bindings: {@link keyDigester} of its
 * {@link KEY_DIGEST_SECRET}.
 *
 * @example
 * const digester = keyDigesterOf(env);
 */
export function keyDigesterOf(env: Readonly<Record<string, unknown>> | undefined): KeyDigester {
  return keyDigester(env?.[KEY_DIGEST_SECRET]);
}
