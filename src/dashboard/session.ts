import { getCookie, setCookie } from 'hono/cookie';
import type { Context } from 'hono';
import { sameSecret } from '../admin/auth';

const COOKIE = 'erl_admin';

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The session value for a secret: an HMAC of it, so the cookie never carries the token itself. */
export const sessionValue = (secret: string): Promise<string> => hmacHex(secret, 'edge-ratelimit dashboard session');

/** Whether the request carries a valid dashboard session. */
export async function hasSession(c: Context, secret: string | undefined): Promise<boolean> {
  const presented = getCookie(c, COOKIE);
  if (!secret || !presented) return false;
  // Compared as equal-length digests: a cookie of any length or alphabet is just a wrong one.
  return sameSecret(presented, await sessionValue(secret));
}

/** Starts a session: an HttpOnly, Secure, SameSite=Strict cookie for eight hours. */
export async function startSession(c: Context, secret: string, path: string): Promise<void> {
  setCookie(c, COOKIE, await sessionValue(secret), { httpOnly: true, secure: true, sameSite: 'Strict', path, maxAge: 8 * 3600 });
}

/** Whether a form post comes from the dashboard's own origin (with SameSite=Strict, against cross-site forms). */
export function sameOrigin(c: Context): boolean {
  const origin = c.req.header('Origin');
  if (!origin || !URL.canParse(origin)) return false;
  return new URL(origin).host === new URL(c.req.url).host;
}
