import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { adminApi as adminApp } from '../../../src/admin/app';
import { rateLimit } from '../../../src/http/middleware';
import { usageSql } from '../../../src/operations/usage';
import type { PolicyInput } from '../../../src/policy/schema';
import { freshIp, limitedApp, send } from '../../support/app';

const TOKEN = 'admin-secret-0123456789';
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 6 * 3_600_000;

const policy: PolicyInput = {
  name: 'customers',
  onError: { mode: 'open', timeoutMs: 10_000 },
  identity: { credential: 'bearer', prefixes: [{ prefix: 'sk_', tier: 'paid' }] },
  rules: [{ name: 'per-token', key: 'bearer', cost: { header: 'X-Batch', max: 10 }, limits: [{ limit: 5, window: '1m' }] }],
};

describe('usage per customer', () => {
  it('writes one Analytics Engine point per request of a known customer, indexed by subject, with allowed, refused and cost units', async () => {
    const points: Array<{ indexes?: string[]; blobs?: string[]; doubles?: number[] }> = [];
    const { app } = limitedApp({ policy, now: () => T0 });
    const bindings = { ...env, RATE_LIMIT_ANALYTICS: { writeDataPoint: (p: (typeof points)[number]) => void points.push(p) } };
    const token = `sk_usage_${crypto.randomUUID()}`;
    for (const batch of ['3', '2', '4'])
      await (
        await send(app, '/items', freshIp(), { headers: { Authorization: `Bearer ${token}`, 'X-Batch': batch } }, bindings)
      ).arrayBuffer();
    await (await send(app, '/items', freshIp(), {}, bindings)).arrayBuffer();
    const usage = points.filter((p) => p.blobs?.[0] === '.usage');
    // The anonymous request has no customer: no point.
    expect(usage).toHaveLength(3);
    const subject = usage[0]!.indexes![0]!;
    expect(subject).toMatch(/^[0-9a-f]{64}$/);
    expect(usage.map((p) => [p.blobs, p.doubles])).toEqual([
      [
        ['.usage', subject, '', 'paid', 'allow'],
        [1, 0, 3],
      ],
      [
        ['.usage', subject, '', 'paid', 'allow'],
        [1, 0, 2],
      ],
      [
        ['.usage', subject, '', 'paid', 'limit'],
        [0, 1, 0],
      ],
    ]);
    expect(JSON.stringify(points)).not.toContain(token);
  });

  it('answers the admin endpoint locally with a plain 501 and the query it would send', async () => {
    const limiter = rateLimit({ policy });
    const admin = adminApp({ limiter, now: () => Date.UTC(2026, 11, 6) });
    const response = await admin.request(
      '/usage?subject=user_42&from=2026-11-01&to=2026-11-30',
      { headers: { Authorization: `Bearer ${TOKEN}` } },
      { ...env, ADMIN_TOKEN: TOKEN },
    );
    expect(response.status).toBe(501);
    const body = (await response.json()) as { error: string; sql: string };
    expect(body.error).toMatch(/^Usage per customer is read from Analytics Engine's SQL API, which is not available here/);
    expect(body.sql).toBe(usageSql({ subject: 'user_42', from: '2026-11-01', to: '2026-11-30', format: 'json' }, 'edge_ratelimit'));
  });

  it('refuses a bad query with a 400 naming the field', async () => {
    const admin = adminApp({ limiter: rateLimit({ policy }) });
    const response = await admin.request(
      '/usage?subject=user_42&from=2026-13-01',
      { headers: { Authorization: `Bearer ${TOKEN}` } },
      { ...env, ADMIN_TOKEN: TOKEN },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'from is a day such as 2026-11-01', field: 'from' });
  });
});
