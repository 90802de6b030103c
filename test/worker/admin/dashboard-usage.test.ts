import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/worker';
import { signInToDashboard } from './support';

const TOKEN = 'dashboard-secret-42';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const ORIGIN = 'https://api.example.test';

const signIn = () => signInToDashboard(app, { token: TOKEN, bindings });

const usage = (query: string, cookie?: string) =>
  app.request(`${ORIGIN}/_ratelimit/dashboard/usage${query}`, { headers: cookie ? { Cookie: cookie } : {} }, bindings);

describe('the dashboard: usage per customer', () => {
  it('is behind the session like the rest of the dashboard', async () => {
    const response = await usage('?by=subject&value=user-42');
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('Sign in');
  });

  it('is linked from the dashboard and shows its form', async () => {
    const cookie = await signIn();
    const dashboard = await (await app.request(`${ORIGIN}/_ratelimit/dashboard`, { headers: { Cookie: cookie } }, bindings)).text();
    expect(dashboard).toContain('href="/_ratelimit/dashboard/usage"');
    const page = await usage('', cookie);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="usage-value"');
  });

  it('says plainly where the SQL API is not available, with the query it would send', async () => {
    const cookie = await signIn();
    const response = await usage('?by=org&value=acme&from=2026-11-01&to=2026-11-30', cookie);
    expect(response.status).toBe(501);
    const text = await response.text();
    expect(text).toContain('Usage per customer is read from Analytics Engine&#39;s SQL API, which is not available here');
    expect(text).toContain('blob3 = &#39;acme&#39;');
    expect(text).toContain('value="acme"');
  });

  it('shows a bad day beside the form, naming it', async () => {
    const cookie = await signIn();
    const response = await usage('?by=subject&value=user-42&from=2026-11-31', cookie);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('from is a day such as 2026-11-01');
  });
});
