import { Hono } from 'hono';
import { type AdminOptions, adminApi } from './admin/app';
import { dashboardApp } from './dashboard/app';

/** What {@link adminApp} takes: the admin API's options, and the path it is mounted under for the dashboard's links and cookies. */
export interface AdminAppOptions extends AdminOptions {
  /** The path the app is mounted under (`/_ratelimit`), for the dashboard's links and cookies. */
  readonly basePath?: string;
}

/**
 * Both operator faces of a limiter in one app: the dashboard under
 * `/dashboard` (signed in with the admin secret) and the JSON admin API
 * (bearer secret) for everything else. Each face also stands alone:
 * `dashboardApp` and `adminApi`.
 *
 * @example
 * const limiter = rateLimit({ policy });
 * app.route('/_ratelimit', adminApp({ limiter, basePath: '/_ratelimit' }));
 * app.use('*', limiter);
 */
export function adminApp(options: AdminAppOptions) {
  const app = new Hono<{ Bindings: Record<string, unknown> }>();
  // The dashboard's routes come first: they answer their own paths before the API's bearer check sees them.
  app.route('/', dashboardApp(options));
  app.route('/', adminApi(options));
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  return app;
}
