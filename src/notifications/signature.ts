/**
 * Webhook signatures: `X-RateLimit-Signature: t=<unix seconds>,v1=<hex>`,
 * where the hex is HMAC-SHA256 under the shared secret of `<t>.<body>`.
 * The timestamp is signed with the body, so a receiver that refuses old
 * timestamps refuses replays.
 */
export const SIGNATURE_HEADER = 'X-RateLimit-Signature';

/** How old a signed timestamp {@link verifySignature} accepts by default, in seconds. */
export const DEFAULT_TOLERANCE_S = 300;

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The signature header's value for a body sent at `nowMs`.
 *
 * @example
 * await signBody('whsec', '{"type":"quota.threshold"}', 1_700_000_000_000); // 't=1700000000,v1=5f…'
 */
export async function signBody(secret: string, body: string, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

/**
 * Whether a signature header is valid for a body, signed at most
 * `toleranceS` seconds before (or after) `nowMs`. Compares in constant time.
 */
export async function verifySignature(
  secret: string,
  body: string,
  header: string | null,
  nowMs: number,
  toleranceS = DEFAULT_TOLERANCE_S,
): Promise<boolean> {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const given = parts.v1;
  if (!Number.isInteger(t) || typeof given !== 'string' || Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  const wanted = await hmacHex(secret, `${t}.${body}`);
  if (wanted.length !== given.length) return false;
  let diff = 0;
  for (let i = 0; i < wanted.length; i++) diff |= wanted.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}
