import { Hono } from 'hono';
// Built on the package's own exports, as any other worker using it would be.
import { adminApi, dashboardApp, forwardedHost, forwardToOrigin, rateLimit } from './index';
import { deliverNotifications } from './notifications/deliver';
import type { ThresholdEvent } from './notifications/event';
import { POLICIES } from './presets/registry';

export { RateLimiter } from './index';

type AppEnv = { Bindings: Env };

/**
 * One limiter per shipped policy, built (and validated) once per isolate,
 * each with its admin API and dashboard. With `ORIGIN_URL` every request goes to that one
 * origin, under its host: rules match that host, not the one the client sent.
 */
const limiters = Object.fromEntries(
  Object.entries(POLICIES).map(([name, policy]) => [name, rateLimit({ policy, host: (c) => forwardedHost((c.env as Env).ORIGIN_URL) })]),
);
const admins = Object.fromEntries(Object.entries(limiters).map(([name, limiter]) => [name, adminApi({ limiter })]));
const dashboards = Object.fromEntries(Object.entries(limiters).map(([name, limiter]) => [name, dashboardApp({ limiter })]));

/** Where the admin API answers unless `ADMIN_PREFIX` says otherwise. */
const DEFAULT_ADMIN_PREFIX = '/_ratelimit';

/**
 * The standalone worker: the admin API and the dashboard (`<prefix>/dashboard`) under its prefix (when `ADMIN_TOKEN`
 * is set), and the rate-limit middleware in front of the origin for
 * everything else. The `POLICY` variable selects the policy (`default` when unset).
 */
export function createApp() {
  const app = new Hono<AppEnv>();
  const policyName = (env: Env) => {
    const name = env.POLICY || 'default';
    if (!limiters[name]) throw new Error(`POLICY "${name}" is not one of: ${Object.keys(limiters).join(', ')}`);
    return name;
  };
  app.use('*', async function admin(c, next) {
    const prefix = c.env.ADMIN_PREFIX || DEFAULT_ADMIN_PREFIX;
    const url = new URL(c.req.url);
    // Without a secret the admin API is off, and its path is ordinary traffic.
    if (!c.env.ADMIN_TOKEN || (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`))) return next();
    url.pathname = url.pathname.slice(prefix.length) || '/';
    const face = url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/') ? dashboards : admins;
    return face[policyName(c.env)]!.fetch(new Request(url, c.req.raw), { ...c.env, ADMIN_MOUNT: prefix });
  });
  app.use('*', async function selectPolicy(c, next) {
    return limiters[policyName(c.env)]!(c, next);
  });
  app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL }));
  return app;
}

const app = createApp();

/** The worker: the app for requests, and the consumer of the near-limit notification queue. */
export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<ThresholdEvent>, env: Env) => deliverNotifications(batch, env),
} satisfies ExportedHandler<Env, ThresholdEvent>;
