import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { sameSecret } from '../operator-auth/secret';

const COOKIE = 'erl_admin';

/** How long a dashboard session lasts after sign-in, checked by the server (the cookie's own expiry is only a hint to the browser). */
export const SESSION_LIFETIME_MS = 8 * 3600_000;

/** Clock skew tolerated on a session's issue time. */
const SKEW_MS = 60_000;

/** KV rows of signed-out sessions, kept until the session would have expired. */
const ENDED_PREFIX = 'dashboard-session-ended:';

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const signed = (secret: string, issuedAt: number, id: string) => hmacHex(secret, `edge-ratelimit dashboard session|${issuedAt}|${id}`);

/** A random session id: 128 bits, hex. */
function randomId(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A session's cookie value, `<issued at ms>.<random id>.<HMAC>`: the HMAC is
 * keyed by the admin secret, so the cookie never carries the secret and
 * rotating the secret ends every session.
 */
export async function sessionValue(secret: string, issuedAt: number, id: string = randomId()): Promise<string> {
  return `${issuedAt}.${id}.${await signed(secret, issuedAt, id)}`;
}

/** The session a cookie value proves, or `undefined`: its MAC checks, it was issued no later than now and under eight hours ago. */
export async function verifySession(
  value: string | undefined,
  secret: string | undefined,
  now: number,
): Promise<{ id: string; issuedAt: number } | undefined> {
  if (!secret || !value) return undefined;
  const match = /^(\d{1,15})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(value);
  if (!match) return undefined;
  const issuedAt = Number(match[1]);
  const id = match[2]!;
  // Compared as equal-length digests, in constant time.
  if (!(await sameSecret(match[3]!, await signed(secret, issuedAt, id)))) return undefined;
  if (issuedAt > now + SKEW_MS || now - issuedAt >= SESSION_LIFETIME_MS) return undefined;
  return { id, issuedAt };
}

/** Whether the request carries a valid dashboard session that was not signed out. */
export async function hasSession(c: Context, secret: string | undefined, now: number, kv: KVNamespace | undefined): Promise<boolean> {
  const session = await verifySession(getCookie(c, COOKIE), secret, now);
  if (!session) return false;
  return !kv || (await kv.get(`${ENDED_PREFIX}${session.id}`)) === null;
}

const cookieOptions = (c: Context, path: string) => ({
  httpOnly: true,
  secure: new URL(c.req.url).protocol === 'https:',
  sameSite: 'Strict' as const,
  path,
});

/** Starts a session: an HttpOnly, SameSite=Strict cookie for the dashboard's path only, Secure when served over https. */
export async function startSession(c: Context, secret: string, path: string, now: number): Promise<void> {
  setCookie(c, COOKIE, await sessionValue(secret, now), { ...cookieOptions(c, path), maxAge: SESSION_LIFETIME_MS / 1000 });
}

/**
 * Ends the request's session: clears the cookie, and records the session id
 * as ended in KV until it would have expired, so a copy of the cookie value
 * no longer works either.
 */
export async function endSession(
  c: Context,
  secret: string | undefined,
  path: string,
  now: number,
  kv: KVNamespace | undefined,
): Promise<void> {
  const session = await verifySession(getCookie(c, COOKIE), secret, now);
  deleteCookie(c, COOKIE, cookieOptions(c, path));
  if (!session || !kv) return;
  const left = Math.ceil((session.issuedAt + SESSION_LIFETIME_MS - now) / 1000);
  // KV keeps a row at least 60 s.
  await kv.put(`${ENDED_PREFIX}${session.id}`, '1', { expirationTtl: Math.max(60, left) });
}

/** Whether a form post comes from the dashboard's own origin (with SameSite=Strict, against cross-site forms). */
export function sameOrigin(c: Context): boolean {
  const origin = c.req.header('Origin');
  if (!origin || !URL.canParse(origin)) return false;
  return new URL(origin).host === new URL(c.req.url).host;
}
