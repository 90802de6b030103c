import { Hono } from 'hono';
// Built on the package's own exports, as any other worker using it would be.
import { forwardToOrigin, rateLimit } from './index';
import { POLICIES } from './presets/registry';

export { RateLimiter } from './index';

type AppEnv = { Bindings: Env };

/** One limiter per shipped policy, built (and validated) once per isolate. */
const limiters = Object.fromEntries(Object.entries(POLICIES).map(([name, policy]) => [name, rateLimit({ policy })]));

/**
 * The standalone worker: the rate-limit middleware in front of the origin.
 * The `POLICY` variable selects the policy (`default` when unset).
 */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.use('*', async function selectPolicy(c, next) {
    const name = c.env.POLICY || 'default';
    const limiter = limiters[name];
    if (!limiter) throw new Error(`POLICY "${name}" is not one of: ${Object.keys(limiters).join(', ')}`);
    return limiter(c, next);
  });
  app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL }));
  return app;
}

export default createApp();
