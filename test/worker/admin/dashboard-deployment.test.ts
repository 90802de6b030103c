import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../../src/worker';
import { signInToDashboard } from './support';

const TOKEN = 'dashboard-secret-42';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const ORIGIN = 'https://api.example.test';

const signIn = () => signInToDashboard(app, { token: TOKEN, bindings });

afterEach(() => vi.restoreAllMocks());

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
    // The most refused keys say the same, with a query per rule.
    expect(text).toContain(
      'The most refused keys across the deployment are read from Analytics Engine&#39;s SQL API, which is not available here',
    );
    expect(text.match(/SELECT blob1 AS rule, blob3 AS key/g)).toHaveLength(new Set(text.match(/index1 = &#39;[^&]+&#39;/g)).size);
  });

  it('refuses a range it does not offer, naming the field', async () => {
    const cookie = await signIn();
    const response = await app.request(`${ORIGIN}/_ratelimit/dashboard/deployment?hours=5`, { headers: { Cookie: cookie } }, bindings);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('hours: choose one of 1, 6, 24, 72, 168');
  });

  it("charts each rule and tables the most refused keys over the chosen range, from the SQL API's answers", async () => {
    const cookie = await signIn();
    const sent: string[] = [];
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const sql = await new Request(input, init).text();
      sent.push(sql);
      if (sql.includes('toStartOfHour')) return Response.json({ data: [{ hour, rule: 'per-ip', event: 'refused', count: 12 }] });
      return Response.json({
        data: sql.includes("index1 = 'per-ip'") ? [{ rule: 'per-ip', key: '2a4c695746be086f', refusals: 12, last_seen: hour }] : [],
      });
    });
    const withApi = { ...bindings, ANALYTICS_ACCOUNT_ID: 'acc', ANALYTICS_API_TOKEN: 't', ANALYTICS_DATASET: 'rl' };
    const response = await app.request(`${ORIGIN}/_ratelimit/dashboard/deployment?hours=6`, { headers: { Cookie: cookie } }, withApi);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('<option value="6" selected>');
    // Six hourly points per line, the refused one holding the 12 refusals of the hour before this one.
    expect(text).toMatch(/data-rule="per-ip"[\s\S]*?data-event="refused" data-values="0,0,0,0,12,0"/);
    expect(text).toContain(
      '<tr data-rule="per-ip" data-key="2a4c695746be086f"><td><code>per-ip</code></td><td><code>2a4c695746be086f</code></td><td>12</td>',
    );
    // The chart's query and the table's queries read the same six hours.
    const range = sent.map((sql) =>
      sql
        .match(/timestamp >= toDateTime\('([^']+)'\) AND timestamp < toDateTime\('([^']+)'\)/)!
        .slice(1)
        .join(' to '),
    );
    expect(new Set(range).size).toBe(1);
  });
});
