import type { MiddlewareHandler } from 'hono';

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

/**
 * Whether `presented` equals `secret`, in time independent of where they
 * differ: both are hashed to equal-length digests, compared with
 * `timingSafeEqual`.
 */
export async function sameSecret(presented: string, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(secret)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization` header, or `undefined`. */
export function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S{1,4096})\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Requires `Authorization: Bearer <secret>`; answers 401 otherwise. */
export function requireBearer(secretOf: (env: Record<string, unknown>) => string | undefined): MiddlewareHandler {
  return async function adminAuth(c, next) {
    const secret = secretOf(c.env as Record<string, unknown>);
    const presented = bearerOf(c.req.header('Authorization'));
    if (!secret || !presented || !(await sameSecret(presented, secret))) {
      c.header('WWW-Authenticate', 'Bearer realm="edge-ratelimit admin"');
      return c.json({ error: 'unauthorized', detail: 'send Authorization: Bearer <ADMIN_TOKEN>' }, 401);
    }
    return next();
  };
}
