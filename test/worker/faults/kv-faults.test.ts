import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../../src/policy/schema';
import { captureLogs, freshIp, from, testApp } from './harness';

/**
 * Identity records in KV decide the tier; tiers pick the rule. A caller whose
 * record cannot be read must get the default tier's limit, never the record's
 * and never an error.
 */
const policy: PolicyInput = {
  name: 'kv-faults',
  identity: { credential: 'bearer', records: true, defaultTier: 'default' },
  rules: [
    { name: 'default-tier', match: { tiers: ['default'] }, key: 'bearer', limits: [{ limit: 1, window: '1h' }] },
    { name: 'pro-tier', match: { tiers: ['pro'] }, key: 'bearer', limits: [{ limit: 100, window: '1h' }] },
  ],
};

/** A KV namespace double whose `get` is scripted; every read is recorded with how it ended. */
function fakeKv(get: () => Promise<string | null>) {
  const reads: Array<{ key: string; settled: boolean }> = [];
  return {
    reads,
    namespace: {
      get(key: string) {
        const read = { key, settled: false };
        reads.push(read);
        return get().finally(() => (read.settled = true));
      },
    },
  };
}

let tokenCounter = 0;
/** A token no other test has used (identity records are cached per isolate by credential). */
function freshToken(): string {
  return `tok_kv_${Date.now().toString(36)}_${++tokenCounter}`;
}

let logs: ReturnType<typeof captureLogs>;
beforeEach(() => (logs = captureLogs()));
afterEach(() => logs.restore());

async function twoRequests(app: ReturnType<typeof testApp>, token: string) {
  const ip = freshIp();
  const first = await app.request('/x', from(ip, { Authorization: `Bearer ${token}` }));
  const second = await app.request('/x', from(ip, { Authorization: `Bearer ${token}` }));
  return [first.status, second.status];
}

describe('identity records in KV', () => {
  it('control: a readable record gives its tier (the pro limit, not the default one)', async () => {
    const token = freshToken();
    const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    await env.RATE_LIMIT_CONFIG.put(`identity:${digest}`, JSON.stringify({ subject: 'user-1', tier: 'pro' }));
    const app = testApp(policy);
    expect(await twoRequests(app, token)).toEqual([200, 200]);
    expect(app.metrics.snapshot().counts).toEqual({ 'pro-tier': { allowed: 2 } });
  });

  const FAULTS: Array<[string, () => Promise<string | null>, string, RegExp]> = [
    ['never answers', () => new Promise<string | null>(() => {}), 'kv_timeout', /./],
    ['is unavailable', () => Promise.reject(new Error('KV GET failed: 503 Service Unavailable')), 'kv_error', /503/],
    ['holds text that is not JSON', () => Promise.resolve('{"subject": "user-1", "tier": "pro"'), 'kv_invalid', /not JSON/],
    ['holds JSON of the wrong shape', () => Promise.resolve(JSON.stringify({ subject: 42, tier: ['pro'] })), 'kv_invalid', /subject/],
    [
      'holds a record with unknown fields',
      () => Promise.resolve(JSON.stringify({ subject: 'u', tier: 'pro', admin: true })),
      'kv_invalid',
      /admin/,
    ],
    ['holds an absurd tier name', () => Promise.resolve(JSON.stringify({ subject: 'u', tier: 'p'.repeat(100_000) })), 'kv_invalid', /tier/],
    ['holds JSON null', () => Promise.resolve('null'), 'kv_invalid', /./],
    [
      'holds a huge document',
      () => Promise.resolve(JSON.stringify({ subject: 'u', tier: 'pro', pad: 'x'.repeat(1_000_000) })),
      'kv_invalid',
      /pad/,
    ],
  ];

  it.each(FAULTS)(
    'when KV %s, the default tier applies, the request is decided, and the event is logged',
    async (_, get, event, detail) => {
      const kv = fakeKv(get);
      const app = testApp(policy, { bindings: { RATE_LIMIT_CONFIG: kv.namespace } });
      expect(await twoRequests(app, freshToken())).toEqual([200, 429]);
      expect(app.metrics.snapshot().counts['default-tier']).toEqual({ allowed: 1, refused: 1 });
      const [logged] = logs.events(event);
      expect(logged).toBeDefined();
      expect(String(logged!.key)).toMatch(/^identity:[0-9a-f]{64}$/);
      expect(JSON.stringify(logged)).toMatch(detail);
      // One read for both requests: the failed read is remembered, so a sick KV is not asked on every request.
      expect(kv.reads).toHaveLength(1);
    },
  );

  it('a read that never answers is abandoned at its budget: the request finished while the read was still pending', async () => {
    const kv = fakeKv(() => new Promise<string | null>(() => {}));
    const app = testApp(policy, { bindings: { RATE_LIMIT_CONFIG: kv.namespace } });
    const response = await app.request('/x', from(freshIp(), { Authorization: `Bearer ${freshToken()}` }));
    expect(response.status).toBe(200);
    expect(kv.reads.map((r) => r.settled)).toEqual([false]);
    expect(logs.events('kv_timeout')[0]).toMatchObject({ timeoutMs: 50 });
  });

  it('no credential reaches KV in the clear: reads use the SHA-256 of the token', async () => {
    const kv = fakeKv(() => Promise.resolve(null));
    const app = testApp(policy, { bindings: { RATE_LIMIT_CONFIG: kv.namespace } });
    const token = freshToken();
    await app.request('/x', from(freshIp(), { Authorization: `Bearer ${token}` }));
    expect(kv.reads).toHaveLength(1);
    expect(kv.reads[0]!.key).not.toContain(token);
    expect(kv.reads[0]!.key).toMatch(/^identity:[0-9a-f]{64}$/);
  });
});
