import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

const COOKIE = 'erl_flash';

/** A one-time message for the page a post redirects to: `ok` for what was done, `bad` for what was refused. */
export interface Flash {
  readonly kind: 'ok' | 'bad';
  readonly text: string;
}

const options = (c: Context, path: string) => ({
  httpOnly: true,
  secure: new URL(c.req.url).protocol === 'https:',
  sameSite: 'Strict' as const,
  path,
});

/** Leaves a message for the next page, in a short-lived cookie on the dashboard's path. */
export function setFlash(c: Context, path: string, flash: Flash): void {
  setCookie(c, COOKIE, JSON.stringify(flash), { ...options(c, path), maxAge: 60 });
}

/** The message a redirect left, read once: the cookie is cleared, so a reload does not show it again. */
export function takeFlash(c: Context, path: string): Flash | undefined {
  const raw = getCookie(c, COOKIE);
  if (raw === undefined) return undefined;
  deleteCookie(c, COOKIE, options(c, path));
  try {
    const parsed = JSON.parse(raw) as Partial<Flash>;
    return (parsed.kind === 'ok' || parsed.kind === 'bad') && typeof parsed.text === 'string'
      ? { kind: parsed.kind, text: parsed.text.slice(0, 1000) }
      : undefined;
  } catch {
    return undefined;
  }
}
