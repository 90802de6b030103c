import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { adminApp, dashboardApp, forwardToOrigin, rateLimit } from '../../../src/index';
import defaultPolicy from '../../../src/presets/default';
import { freshIp } from '../../support/app';
import { signInToDashboard } from './support';

const TOKEN = 'mount-secret-7';
const ORIGIN = 'https://api.example.test';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };

/** A worker of one's own, mounting both faces as the README shows. */
function ownWorker() {
  const limiter = rateLimit({ policy: defaultPolicy });
  const app = new Hono<{ Bindings: Env }>();
  app.route('/_ratelimit', dashboardApp({ limiter, basePath: '/_ratelimit' }));
  app.route('/_ratelimit', adminApp({ limiter }));
  app.use('*', limiter);
  app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL }));
  return app;
}

/**
 * Checks that `app` serves the JSON API behind the bearer token and the
 * dashboard behind its sign-in page, then signs in: the session cookie.
 */
async function expectBothFacesBehindTheirSignIn(app: Hono<{ Bindings: Env }>): Promise<string> {
  expect((await app.request(`${ORIGIN}/_ratelimit/policy`, {}, bindings)).status).toBe(401);
  const policy = await app.request(`${ORIGIN}/_ratelimit/policy`, { headers: { Authorization: `Bearer ${TOKEN}` } }, bindings);
  expect(policy.status).toBe(200);
  expect(((await policy.json()) as { name: string }).name).toBe('default');
  const signInPage = await app.request(`${ORIGIN}/_ratelimit/dashboard`, {}, bindings);
  expect(signInPage.status).toBe(401);
  expect(await signInPage.text()).toContain('action="/_ratelimit/dashboard/login"');
  return signInToDashboard(app, { token: TOKEN, bindings, origin: ORIGIN });
}

describe('the admin API and the dashboard mounted side by side in a worker of your own', () => {
  it('serves the JSON API behind the bearer token, the dashboard behind its sign-in, and limits everything else', async () => {
    const app = ownWorker();
    const cookie = await expectBothFacesBehindTheirSignIn(app);
    expect((await app.request(`${ORIGIN}/_ratelimit/dashboard`, { headers: { Cookie: cookie } }, bindings)).status).toBe(200);
    const limited = await app.request(`${ORIGIN}/items`, { headers: { 'CF-Connecting-IP': freshIp() } }, bindings);
    expect(limited.headers.get('X-RateLimit-Limit')).toBe('10');
    await limited.arrayBuffer();
  });
});

describe('adminApp, both operator faces in one app', () => {
  it('serves the JSON API and, under /dashboard, the dashboard, as it did before the faces were split', async () => {
    const limiter = rateLimit({ policy: defaultPolicy });
    const app = new Hono<{ Bindings: Env }>();
    app.route('/_ratelimit', adminApp({ limiter, basePath: '/_ratelimit' }));
    app.use('*', limiter);
    app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL }));
    const cookie = await expectBothFacesBehindTheirSignIn(app);
    const page = await app.request(`${ORIGIN}/_ratelimit/dashboard`, { headers: { Cookie: cookie } }, bindings);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('default');
    // A signed-in dashboard session is not a bearer token for the API.
    expect((await app.request(`${ORIGIN}/_ratelimit/policy`, { headers: { Cookie: cookie } }, bindings)).status).toBe(401);
    const limited = await app.request(`${ORIGIN}/items`, { headers: { 'CF-Connecting-IP': freshIp() } }, bindings);
    expect(limited.headers.get('X-RateLimit-Limit')).toBe('10');
    await limited.arrayBuffer();
  });
});
