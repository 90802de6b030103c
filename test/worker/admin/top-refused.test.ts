import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adminApi as adminApp } from '../../../src/admin/app';
import { rateLimit } from '../../../src/http/middleware';
import { topRefusedSql } from '../../../src/operations/top-refused';
import type { PolicyInput } from '../../../src/policy/schema';

const TOKEN = 'admin-secret-0123456789';
const NOW = Date.UTC(2026, 11, 6, 21, 30);

const policy: PolicyInput = {
  name: 'refusals',
  onError: { mode: 'open', timeoutMs: 10_000 },
  rules: [
    { name: 'per-ip', key: 'ip', limits: [{ limit: 10, window: '1m' }] },
    { name: 'login', match: { paths: ['/login'] }, key: 'ip', limits: [{ limit: 5, window: '10m' }] },
  ],
};
const configured = {
  ...env,
  ADMIN_TOKEN: TOKEN,
  ANALYTICS_ACCOUNT_ID: 'acc',
  ANALYTICS_API_TOKEN: 'token-for-tests',
  ANALYTICS_DATASET: 'rl_points',
};

const get = (path: string, bindings: Record<string, unknown>) =>
  adminApp({ limiter: rateLimit({ policy }), now: () => NOW }).request(path, { headers: { Authorization: `Bearer ${TOKEN}` } }, bindings);

afterEach(() => vi.restoreAllMocks());

describe('the admin API: the most refused keys across the deployment', () => {
  it('is behind the bearer secret', async () => {
    const response = await adminApp({ limiter: rateLimit({ policy }) }).request('/decisions/top-refused', {}, configured);
    expect(response.status).toBe(401);
  });

  it("answers each rule's keys from the SQL API, with the range it read", async () => {
    const sent: string[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      expect(request.url).toBe('https://api.cloudflare.com/client/v4/accounts/acc/analytics_engine/sql');
      const sql = await request.text();
      sent.push(sql);
      return Response.json({
        data: sql.includes("index1 = 'login'")
          ? [{ rule: 'login', key: 'c0ffee0012345678', refusals: 7, last_seen: '2026-12-06 20:59:59' }]
          : [],
      });
    });
    const response = await get('/decisions/top-refused?from=2026-12-06&limit=5', configured);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      from: '2026-12-06T00:00:00Z',
      to: '2026-12-06T21:30:00Z',
      limit: 5,
      keys: [{ rule: 'login', key: 'c0ffee0012345678', refusals: 7, lastSeen: '2026-12-06T20:59:59Z' }],
    });
    expect(sent.sort()).toEqual(
      ['per-ip', 'login'].map((rule) => topRefusedSql(rule, '2026-12-06T00:00:00Z', '2026-12-06T21:30:00Z', 5, 'rl_points')).sort(),
    );
  });

  it('answers locally with a plain 501 and the queries it would send', async () => {
    const response = await get('/decisions/top-refused?rule=per-ip&from=2026-12-01&to=2026-12-06', { ...env, ADMIN_TOKEN: TOKEN });
    expect(response.status).toBe(501);
    const body = (await response.json()) as { error: string; sql: string };
    expect(body.error).toMatch(
      /^The most refused keys across the deployment are read from Analytics Engine's SQL API, which is not available here/,
    );
    expect(body.sql).toBe(topRefusedSql('per-ip', '2026-12-01T00:00:00Z', '2026-12-07T00:00:00Z', 10, 'edge_ratelimit'));
  });

  it.each([
    ['from=2026-12-40', 'from'],
    ['to=soon', 'to'],
    ['from=2026-12-06&to=2026-12-05', 'from'],
    ['rule=per-token', 'rule'],
    ['limit=500', 'limit'],
  ])('refuses ?%s with a 400 naming %s', async (query, field) => {
    const response = await get(`/decisions/top-refused?${query}`, configured);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { field: string }).field).toBe(field);
  });

  it('is described in the OpenAPI document', async () => {
    const document = (await (await get('/openapi.json', configured)).json()) as {
      paths: Record<string, { get?: { parameters: Array<{ name: string }> } }>;
    };
    expect(document.paths['/decisions/top-refused']?.get?.parameters.map((p) => p.name)).toEqual(['from', 'to', 'rule', 'limit']);
  });
});
