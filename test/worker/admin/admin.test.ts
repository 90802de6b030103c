import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { adminApi as adminApp } from '../../../src/admin/app';
import { openApiDocument } from '../../../src/admin/openapi';
import { rateLimit } from '../../../src/http/middleware';
import defaultPolicy from '../../../src/presets/default';
import { createApp } from '../../../src/worker';
import { freshIp } from '../../support/app';

const TOKEN = 'admin-secret-0123456789';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const kv = env.RATE_LIMIT_CONFIG;

afterEach(async () => {
  for (const prefix of ['override:', 'list:', 'identity:']) {
    const { keys } = await kv.list({ prefix });
    await Promise.all(keys.map((k) => kv.delete(k.name)));
  }
});

/** A call to the admin API with the right token unless told otherwise. */
async function admin(path: string, init: RequestInit & { token?: string | null; env?: object } = {}) {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('Authorization', `Bearer ${init.token ?? TOKEN}`);
  if (typeof init.body === 'string' && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  const response = await app.request(`http://api.example.test/_ratelimit${path}`, { ...init, headers }, init.env ?? bindings);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

async function hit(ip: string, extra: Record<string, string> = {}, env_: object = bindings) {
  const response = await app.request('http://api.example.test/items', { headers: { 'CF-Connecting-IP': ip, ...extra } }, env_);
  await response.arrayBuffer();
  return response;
}

describe('the admin API: access', () => {
  it('is off without ADMIN_TOKEN: its path is ordinary traffic to the origin', async () => {
    const response = await app.request(
      'http://api.example.test/_ratelimit/policy',
      { headers: { Authorization: `Bearer ${TOKEN}`, 'CF-Connecting-IP': freshIp() } },
      env,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-demo-origin')).toBe('1');
    await response.arrayBuffer();
  });

  it('answers 401 with WWW-Authenticate to a missing, wrong, near-miss or malformed token', async () => {
    for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1), `x${TOKEN.slice(1)}`, '']) {
      const response = await admin('/policy', { token });
      expect(response.status).toBe(401);
      expect(response.headers.get('WWW-Authenticate')).toBe('Bearer realm="edge-ratelimit admin"');
    }
    const basic = await admin('/policy', { token: null, headers: { Authorization: `Basic ${btoa(`admin:${TOKEN}`)}` } });
    expect(basic.status).toBe(401);
    expect((await admin('/policy')).status).toBe(200);
  });

  it('serves an OpenAPI document naming every route it answers', async () => {
    const doc = await admin('/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.json().paths).map((p) => p.replace(/\{(\w+)\}/g, ':$1'));
    const routes = adminApp({ limiter: rateLimit({ policy: defaultPolicy }) })
      .routes.filter((r) => r.method !== 'ALL' && r.path !== '/openapi.json' && !r.path.startsWith('/dashboard'))
      .map((r) => r.path.replace('{.+}', ''));
    expect([...new Set(routes)].sort()).toEqual(paths.sort());
    expect(openApiDocument().components.schemas.Override).toHaveProperty('anyOf');
  });
});

describe('the admin API: overrides', () => {
  it('writes an override that changes the limit for that key only, at once', async () => {
    const [ip, other] = [freshIp(), freshIp()];
    const put = await admin(`/overrides/per-ip/key/${ip}`, {
      method: 'PUT',
      body: JSON.stringify({ limits: [{ limit: 2, window: '1m' }], reason: 'abuse report 42' }),
    });
    expect(put.status).toBe(200);
    expect(put.json()).toMatchObject({ key: `override:per-ip:key:${ip}`, reason: 'abuse report 42' });
    expect([(await hit(ip)).status, (await hit(ip)).status, (await hit(ip)).status]).toEqual([200, 200, 429]);
    expect((await hit(other)).headers.get('X-RateLimit-Limit')).toBe('10');
    const listed = (await admin('/overrides')).json();
    expect(listed.overrides).toEqual([
      {
        key: `override:per-ip:key:${ip}`,
        rule: 'per-ip',
        kind: 'key',
        value: ip,
        limits: [{ algorithm: 'fixed-window', limit: 2, window: 60_000 }],
        reason: 'abuse report 42',
      },
    ]);
    expect((await admin(`/overrides/per-ip/key/${ip}`, { method: 'DELETE' })).status).toBe(200);
    expect((await hit(ip)).status).toBe(200);
  });

  it('answers 400 naming the field for wrong types, negative or absurd limits, unknown rules and kinds; 413 and 415 for bodies it will not read', async () => {
    const cases: Array<[string, string, string]> = [
      ['/overrides/per-ip/key/1.2.3.4', '{not json', '(body)'],
      ['/overrides/per-ip/key/1.2.3.4', JSON.stringify({ limits: [{ limit: 'many', window: '1m' }] }), 'limits.0.limit'],
      ['/overrides/per-ip/key/1.2.3.4', JSON.stringify({ limits: [{ limit: -1, window: '1m' }] }), 'limits.0.limit'],
      ['/overrides/per-ip/key/1.2.3.4', JSON.stringify({ limits: [{ limit: 1e13, window: '1m' }] }), 'limits.0.limit'],
      ['/overrides/per-ip/key/1.2.3.4', JSON.stringify({ limits: [{ limit: 5, window: '1 fortnight' }] }), 'limits.0.window'],
      ['/overrides/per-ip/key/1.2.3.4', JSON.stringify({ exempt: true, expires: 'tomorrow' }), 'expires'],
      ['/overrides/per-ip/key/1.2.3.4', JSON.stringify({ limits: [{ limit: 5, window: '1m' }], extra: 1 }), '(body)'],
      ['/overrides/nope/key/1.2.3.4', JSON.stringify({ exempt: true }), 'rule'],
      ['/overrides/per-ip/user/1.2.3.4', JSON.stringify({ exempt: true }), 'kind'],
    ];
    for (const [path, body, field] of cases) {
      const response = await admin(path, { method: 'PUT', body });
      expect(response.status, `${path} ${body}`).toBe(400);
      expect(response.json().field, `${path} ${body}`).toBe(field);
    }
    const huge = await admin('/overrides/per-ip/key/1.2.3.4', {
      method: 'PUT',
      body: JSON.stringify({ exempt: true, reason: 'x'.repeat(70_000) }),
    });
    expect(huge.status).toBe(413);
    const untyped = await admin('/overrides/per-ip/key/1.2.3.4', {
      method: 'PUT',
      body: '{"exempt":true}',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(untyped.status).toBe(415);
    expect((await kv.list({ prefix: 'override:' })).keys).toEqual([]);
  });

  it('stores keys with path separators and dot segments as plain values, under the override prefix', async () => {
    const value = 'a/b/../../identity:x';
    const response = await admin(`/overrides/per-ip/key/${encodeURIComponent(value)}`, {
      method: 'PUT',
      body: JSON.stringify({ exempt: true }),
    });
    expect(response.status).toBe(200);
    expect((await kv.list({ prefix: '' })).keys.map((k) => k.name)).toEqual([`override:per-ip:key:${value}`]);
    expect((await admin('/overrides/per-ip/key/a/b', { method: 'PUT', body: JSON.stringify({ exempt: true }) })).status).toBe(404);
  });

  it('answers 400 naming the field for limits sharing a name (they would share one counter), and writes nothing', async () => {
    const cases: Array<[object, string, string]> = [
      [
        {
          limits: [
            { name: 'burst', limit: 2, window: '1m' },
            { name: 'burst', limit: 50, window: '1h' },
          ],
        },
        'limits.1.name',
        'limits.1.name: duplicate limit name "burst"',
      ],
      [
        {
          limits: [
            { limit: 2, window: '1m' },
            { limit: 5, window: '60s' },
          ],
        },
        'limits.1.name',
        'limits.1.name: another limit is already named "1m" after its window: give these limits distinct names',
      ],
      [
        {
          limits: [
            { limit: 50, window: '1h' },
            { name: '1h', limit: 2, window: '1m' },
          ],
        },
        'limits.1.name',
        'limits.1.name: duplicate limit name "1h"',
      ],
    ];
    for (const [body, field, error] of cases) {
      const response = await admin(`/overrides/per-ip/key/${freshIp()}`, { method: 'PUT', body: JSON.stringify(body) });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.json()).toEqual({ field, error });
    }
    expect((await kv.list({ prefix: 'override:' })).keys).toEqual([]);
    const distinct = await admin(`/overrides/per-ip/key/${freshIp()}`, {
      method: 'PUT',
      body: JSON.stringify({
        limits: [
          { limit: 2, window: '1m' },
          { limit: 50, window: '1h' },
        ],
      }),
    });
    expect(distinct.status).toBe(200);
  });

  it('answers 400 naming expires for an override or list entry that has already expired, and writes nothing', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    for (const [path, body] of [
      [`/overrides/per-ip/key/${freshIp()}`, { exempt: true, expires: past }],
      [`/overrides/per-ip/key/${freshIp()}`, { limits: [{ limit: 2, window: '1m' }], expires: '2020-01-01T00:00:00+02:00' }],
      ['/lists/block/ip/203.0.113.9', { expires: past, reason: 'abuse' }],
    ] as const) {
      const response = await admin(path, { method: 'PUT', body: JSON.stringify(body) });
      expect(response.status, path).toBe(400);
      expect(response.json().field).toBe('expires');
      expect(response.json().error).toMatch(/^expires .* has passed: give a time after /);
    }
    expect((await kv.list({ prefix: '' })).keys.filter((k) => !k.name.startsWith('identity:'))).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(
      (await admin(`/overrides/per-ip/key/${freshIp()}`, { method: 'PUT', body: JSON.stringify({ exempt: true, expires: future }) }))
        .status,
    ).toBe(200);
  });

  it('ignores and reports an override written by hand whose limits share a name: the policy limit applies, never a 500', async () => {
    const ip = freshIp();
    await kv.put(
      `override:per-ip:key:${ip}`,
      JSON.stringify({
        limits: [
          { limit: 1, window: '1m' },
          { limit: 1000, window: '1m' },
        ],
      }),
    );
    const listed = (await admin('/overrides')).json();
    expect(listed.overrides).toEqual([]);
    expect(listed.malformed).toEqual([
      {
        key: `override:per-ip:key:${ip}`,
        errors: ['limits.1.name: another limit is already named "1m" after its window: give these limits distinct names'],
      },
    ]);
    const responses = [await hit(ip), await hit(ip)];
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(responses[1]!.headers.get('X-RateLimit-Limit')).toBe('10');
  });

  it('lists malformed entries written by hand, which the limiter ignores', async () => {
    await kv.put('override:per-ip:key:9.9.9.9', '{"limits": 3}');
    const listed = (await admin('/overrides')).json();
    expect(listed.overrides).toEqual([]);
    expect(listed.malformed).toHaveLength(1);
    expect(listed.malformed[0].key).toBe('override:per-ip:key:9.9.9.9');
  });
});

describe('the admin API: identities, lists and keys', () => {
  it('writes identity records by hashing a raw credential, never storing it', async () => {
    // Cloudsmith's policy reads identity records and has a "pro" tier.
    const cloudsmith = { ...bindings, POLICY: 'cloudsmith' };
    const credential = `tok-${crypto.randomUUID()}`;
    const put = await admin('/identities', {
      method: 'PUT',
      body: JSON.stringify({ credential, subject: 'alice', org: 'acme', tier: 'pro' }),
      env: cloudsmith,
    });
    expect(put.status).toBe(200);
    const hash = put.json().credentialHash as string;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const stored = await kv.get(`identity:${hash}`, 'text');
    expect(JSON.parse(stored!)).toEqual({ subject: 'alice', org: 'acme', tier: 'pro' });
    expect(stored).not.toContain(credential);
    expect((await admin(`/identities/${hash}`, { env: cloudsmith })).json()).toEqual({
      credentialHash: hash,
      subject: 'alice',
      org: 'acme',
      tier: 'pro',
    });
    const both = await admin('/identities', {
      method: 'PUT',
      body: JSON.stringify({ credential, credentialHash: hash, subject: 'a', tier: 't' }),
      env: cloudsmith,
    });
    expect([both.status, both.json().field]).toEqual([400, 'credential']);
    expect((await admin('/identities/not-a-hash', { env: cloudsmith })).status).toBe(400);
  });

  it('refuses an identity record the policy would never use, naming the field and the reason', async () => {
    const body = JSON.stringify({ credential: 'tok-1', subject: 'alice', tier: 'pro' });
    const unread = await admin('/identities', { method: 'PUT', body });
    expect(unread.status).toBe(400);
    expect(unread.json()).toEqual({
      field: '(body)',
      error: 'policy "default" reads no identity records (identity.records is not set), so this record would never be used',
    });
    const noTier = await admin('/identities', {
      method: 'PUT',
      body: JSON.stringify({ credential: 'tok-1', subject: 'alice', tier: 'platinum' }),
      env: { ...bindings, POLICY: 'cloudsmith' },
    });
    expect(noTier.status).toBe(400);
    expect(noTier.json().field).toBe('tier');
    expect(noTier.json().error).toMatch(/^policy "cloudsmith" has no tier "platinum" \(tiers: core, enterprise, pro, ultra, velocity\)$/);
    expect((await kv.list({ prefix: 'identity:' })).keys).toEqual([]);
  });

  it('answers 400 for a value whose KV key would be over 512 bytes, and reports a malformed identity record instead of failing', async () => {
    const long = await admin(`/overrides/per-ip/subject/${encodeURIComponent('é'.repeat(300))}`, {
      method: 'PUT',
      body: JSON.stringify({ exempt: true }),
    });
    expect([long.status, long.json().field]).toEqual([400, 'value']);
    const hash = 'a'.repeat(64);
    await kv.put(`identity:${hash}`, JSON.stringify({ subject: 'x', tier: 7 }));
    const record = await admin(`/identities/${hash}`);
    expect(record.status).toBe(200);
    expect(record.json()).toEqual({ credentialHash: hash, malformed: [expect.stringMatching(/^tier: /)] });
    await kv.put(`identity:${hash}`, '{not json');
    expect((await admin(`/identities/${hash}`)).json()).toEqual({ credentialHash: hash, malformed: ['(value): not JSON'] });
  });

  it('adds and removes a blocked range (403 while listed, saying it is the block list and nothing more)', async () => {
    const put = await admin(`/lists/block/ip/${encodeURIComponent('203.0.113.0/24')}`, {
      method: 'PUT',
      body: JSON.stringify({ reason: 'scraper' }),
    });
    expect(put.status).toBe(200);
    const blocked = await app.request('http://api.example.test/items', { headers: { 'CF-Connecting-IP': '203.0.113.5' } }, bindings);
    expect(blocked.status).toBe(403);
    expect(blocked.headers.get('Content-Type')).toBe('application/problem+json');
    expect(await blocked.json()).toEqual({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'Access denied.', list: 'block' });
    expect((await admin(`/lists/block/ip/${encodeURIComponent('203.0.113.0/24')}`, { method: 'DELETE' })).status).toBe(200);
    expect((await hit('203.0.113.5')).status).toBe(200);
    const bad = await admin('/lists/block/ip/not-an-ip', { method: 'PUT', body: '{}' });
    expect([bad.status, bad.json().field]).toEqual([400, 'value']);
  });

  it("inspects a key's live counters and resets them", async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) await hit(ip);
    const seen = (await admin(`/keys/per-ip?ip=${ip}`)).json();
    expect(seen).toMatchObject({ rule: 'per-ip', key: ip, object: `ip=${ip}`, bans: [], override: null });
    expect(seen.limits).toMatchObject([{ id: 'per-ip/1m', algorithm: 'sliding-window', limit: 10, used: 3, remaining: 7 }]);
    expect((await admin(`/keys/per-ip?ip=${ip}`, { method: 'DELETE' })).json()).toEqual({ reset: `ip=${ip}` });
    expect((await hit(ip)).headers.get('X-RateLimit-Remaining')).toBe('9');
    const wrong = await admin(`/keys/per-token?ip=${ip}`);
    expect([wrong.status, wrong.json().field]).toEqual([400, 'ip']);
    expect((await admin('/keys/per-ip')).json().field).toBe('key');
  });

  it('reads and lifts a ban', async () => {
    const rubygems = { ...bindings, POLICY: 'rubygems' };
    const ip = freshIp();
    let status = 0;
    for (let i = 0; i < 2_000 && status !== 403; i++) status = (await hit(ip, {}, rubygems)).status;
    expect(status).toBe(403);
    const seen = (await admin(`/keys/lb-ip?ip=${ip}`, { env: rubygems })).json();
    expect(seen.bans).toHaveLength(1);
    expect(seen.bans[0].bannedUntil).not.toBeNull();
    // The ban also blocked the address on every path; the block list shows it, and lifting the ban takes it off.
    const lists = (await admin('/lists', { env: rubygems })).json();
    expect(lists.entries).toContainEqual(
      expect.objectContaining({ list: 'block', kind: 'ip', value: ip, reason: 'banned by rule lb-ip: 300 refusals within 1m' }),
    );
    expect((await admin(`/keys/lb-ip/ban?ip=${ip}`, { method: 'DELETE', env: rubygems })).json()).toEqual({
      lifted: 1,
      unblocked: `list:block:ip:${ip}`,
    });
    expect((await hit(ip, {}, rubygems)).status).not.toBe(403);
  }, 60_000);
});
