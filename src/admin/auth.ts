import type { MiddlewareHandler } from 'hono';
import { bearerOf, sameSecret } from '../operator-auth/secret';

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
