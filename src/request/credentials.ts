/** Longest credential accepted; anything longer is treated as absent rather than hashed. */
export const MAX_CREDENTIAL_LENGTH = 4096;

function bounded(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  return trimmed && trimmed.length <= MAX_CREDENTIAL_LENGTH ? trimmed : undefined;
}

/** The token of `Authorization: Bearer <token>`. */
export function bearerToken(headers: Headers): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.get('authorization') ?? '');
  return bounded(match?.[1]);
}

/** The user name of `Authorization: Basic <base64(user:password)>`; a value without a colon is the user name. */
export function basicUser(headers: Headers): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(headers.get('authorization') ?? '');
  if (!match?.[1] || match[1].length > MAX_CREDENTIAL_LENGTH) return undefined;
  let decoded: string;
  try {
    decoded = atob(match[1]);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  return bounded(colon === -1 ? decoded : decoded.slice(0, colon));
}

/**
 * A Basic user name as a rate-limit key: decoded as UTF-8, NFKC-normalised
 * and lower-cased, so `Alice`, `ALICE` and full-width `ａｌｉｃｅ` (which many
 * login systems fold to one account) share one budget.
 *
 * @example userKey('\u00ef\u00bd\u0081lice') // 'alice' (full-width a, as atob's bytes)
 */
export function userKey(user: string): string {
  const bytes = Uint8Array.from(user, (c) => c.charCodeAt(0) & 0xff);
  const text = [...user].some((c) => c.charCodeAt(0) > 0xff) ? user : new TextDecoder().decode(bytes);
  return text.normalize('NFKC').toLowerCase();
}

/** The whole `Authorization` value, for APIs that send a raw key there. */
export function authorizationValue(headers: Headers): string | undefined {
  return bounded(headers.get('authorization'));
}

/** A header's value, bounded. */
export function headerValue(headers: Headers, name: string): string | undefined {
  return bounded(headers.get(name));
}

/**
 * SHA-256 hex digest. Credentials are hashed before they become keys, storage
 * names or log fields, so no raw secret leaves the request.
 */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
