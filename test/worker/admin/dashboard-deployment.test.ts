import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/worker';

const TOKEN = 'dashboard-secret-42';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const ORIGIN = 'https://api.example.test';

async function signIn(): Promise<string> {
  const response = await app.request(
    `${ORIGIN}/_ratelimit/dashboard/login`,
    {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN },
    },
    bindings,
  );
  expect(response.status).toBe(303);
  return response.headers.get('Set-Cookie')!.split(';')[0]!;
}

describe('the dashboard: decisions across the deployment', () => {
  it('is behind the session', async () => {
    const response = await app.request(`${ORIGIN}/_ratelimit/dashboard/deployment`, {}, bindings);
    expect(response.status).toBe(401);
  });

  it("is linked from the dashboard, whose own counters are labelled as this isolate's", async () => {
    const cookie = await signIn();
    const text = await (await app.request(`${ORIGIN}/_ratelimit/dashboard`, { headers: { Cookie: cookie } }, bindings)).text();
    expect(text).toContain('href="/_ratelimit/dashboard/deployment"');
    expect(text).toContain('Decisions in this isolate (the one that served this page)');
  });

  it('says plainly where the SQL API is not available, with the query it would send', async () => {
    const cookie = await signIn();
    const response = await app.request(`${ORIGIN}/_ratelimit/dashboard/deployment`, { headers: { Cookie: cookie } }, bindings);
    expect(response.status).toBe(501);
    const text = await response.text();
    expect(text).toContain('Decisions across the deployment are read from Analytics Engine&#39;s SQL API, which is not available here');
    expect(text).toContain('toStartOfHour(timestamp)');
  });
});
