import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { identityRow } from '../../../src/identity/record';
import { LiveConfig } from '../../../src/overrides/live-config';
import { parsePolicy } from '../../../src/policy/parse';
import { sha256Hex } from '../../../src/request/credentials';
import { freshIp, limitedApp, manualClock, send } from '../../support/app';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 12 * 3_600_000;
const kv = env.RATE_LIMIT_CONFIG;
const written: string[] = [];

async function put(key: string, value: unknown) {
  written.push(key);
  await kv.put(key, typeof value === 'string' ? value : JSON.stringify(value));
}

afterEach(async () => {
  await Promise.all(written.splice(0).map((k) => kv.delete(k)));
});

const policy = parsePolicy({
  name: 'live',
  identity: { credential: 'bearer' as const, records: true, defaultTier: 'token' },
  onError: { mode: 'open' as const, timeoutMs: 10_000 },
  response: { headers: ['x-ratelimit'] as const },
  rules: [
    { name: 'per-ip', match: { tiers: ['anonymous'] }, key: 'ip' as const, limits: [{ limit: 2, window: '1m' }] },
    { name: 'per-user', match: { tiers: ['free', 'token'] }, key: { identity: 'subject' as const }, limits: [{ limit: 2, window: '1m' }] },
  ],
});

/** A limiter that reads KV afresh for every request, so a test sees its writes at once. */
function app() {
  const clock = manualClock(T0);
  return { ...limitedApp({ policy, now: clock.now, live: { ttlMs: 0, timeoutMs: 5_000 } }), clock };
}

async function statuses(a: ReturnType<typeof app>['app'], n: number, ip: string, headers: Record<string, string> = {}) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await send(a, '/x', ip, { headers });
    await r.arrayBuffer();
    out.push(r.status);
  }
  return out;
}

async function userToken(subject: string, org: string) {
  const token = crypto.randomUUID();
  await put(identityRow(await sha256Hex(token)), { subject, org, tier: 'free' });
  return { Authorization: `Bearer ${token}` };
}

describe('overrides in Workers KV', () => {
  it('raise the limit of one key and leave the others alone', async () => {
    const { app: a } = app();
    const [vip, other] = [freshIp(), freshIp()];
    await put(`override:per-ip:key:${vip}`, { limits: [{ limit: 5, window: '1m' }], reason: 'partner' });
    expect(await statuses(a, 6, vip)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await statuses(a, 3, other)).toEqual([200, 200, 429]);
  });

  it('cut one identity to 1 a minute, for every rule (*), and exempt a whole org by prefix', async () => {
    const { app: a } = app();
    const abuser = await userToken(`bad-${crypto.randomUUID()}`, 'acme');
    const partner = await userToken(`ok-${crypto.randomUUID()}`, 'partner-eu');
    const subject = (await kv.get(identityRow(await sha256Hex(abuser.Authorization.slice(7))), 'json')) as { subject: string };
    await put(`override:*:subject:${subject.subject}`, { limits: [{ limit: 1, window: '1m' }] });
    await put('override:per-user:org:partner-*', { exempt: true });
    expect(await statuses(a, 2, freshIp(), abuser)).toEqual([200, 429]);
    expect(await statuses(a, 5, freshIp(), partner)).toEqual([200, 200, 200, 200, 200]);
  });

  it('pick the most specific entry: an exact key beats an org prefix; a rule-specific entry beats *', async () => {
    const { app: a } = app();
    const ip = freshIp();
    await put(`override:*:key:${ip}`, { limits: [{ limit: 1, window: '1m' }] });
    await put(`override:per-ip:key:${ip}`, { limits: [{ limit: 3, window: '1m' }] });
    await put(`override:per-ip:key:${ip.split('.').slice(0, 2).join('.')}.*`, { exempt: true });
    expect(await statuses(a, 4, ip)).toEqual([200, 200, 200, 429]);
  });

  it('stop applying once expired', async () => {
    const { app: a, clock } = app();
    const ip = freshIp();
    await put(`override:per-ip:key:${ip}`, { limits: [{ limit: 4, window: '1m' }], expires: new Date(T0 + 60_000).toISOString() });
    expect(await statuses(a, 3, ip)).toEqual([200, 200, 200]);
    clock.set(T0 + 60_000);
    expect(await statuses(a, 3, ip)).toEqual([200, 200, 429]);
  });

  it('ignore malformed entries, log them and keep the defaults: never a 500', async () => {
    const { app: a } = app();
    const ip = freshIp();
    await put(`override:per-ip:key:${ip}`, '{not json');
    await put(`override:per-ip:nope:${ip}`, { exempt: true });
    await put(`override:*:key:${ip}`, { limits: [{ limit: -5, window: '1m' }] });
    await put('override:per-ip:subject:someone', { limits: 'many' });
    expect(await statuses(a, 3, ip)).toEqual([200, 200, 429]);
    const snapshot = await new LiveConfig().load(kv, T0);
    const reasons = Object.fromEntries(snapshot.malformed.map((m) => [m.key, m.errors]));
    expect(reasons[`override:per-ip:key:${ip}`]).toEqual(['(value): not JSON']);
    expect(reasons[`override:per-ip:nope:${ip}`]).toEqual(['(key): "nope" is not one of key, subject, org']);
    expect(reasons[`override:*:key:${ip}`]?.[0]).toMatch(/^limits\.0\.limit: /);
    expect(reasons['override:per-ip:subject:someone']).toHaveLength(1);
  });
});

describe('allow and block lists in Workers KV', () => {
  it('refuse a blocked range with 403 and let an allowed address past every limit', async () => {
    const { app: a } = app();
    const blocked = '203.0.113.77';
    const allowed = freshIp();
    await put('list:block:ip:203.0.113.0/24', { reason: 'abuse' });
    await put(`list:allow:ip:${allowed}`, {});
    expect(await statuses(a, 1, blocked)).toEqual([403]);
    expect(await statuses(a, 4, allowed)).toEqual([200, 200, 200, 200]);
  });

  it('ignore entries with invalid values', async () => {
    const { app: a } = app();
    await put('list:block:ip:not-an-address', {});
    await put('list:block:country:germany', {});
    const ip = freshIp();
    expect(await statuses(a, 1, ip)).toEqual([200]);
  });
});

describe('when KV fails', () => {
  const policyFor = (namespace: unknown) => ({ ...env, RATE_LIMIT_CONFIG: namespace });

  it('apply the defaults when KV throws', async () => {
    const clock = manualClock(T0);
    const { app: a } = limitedApp({ policy, now: clock.now, live: { ttlMs: 0, timeoutMs: 50 } });
    const broken = { list: () => Promise.reject(new Error('KV down')), get: () => Promise.reject(new Error('KV down')) };
    const ip = freshIp();
    const out: number[] = [];
    for (let i = 0; i < 3; i++) out.push((await send(a, '/x', ip, {}, policyFor(broken))).status);
    expect(out).toEqual([200, 200, 429]);
  });

  it('do not hold a request on a read that never answers', async () => {
    const clock = manualClock(T0);
    const { app: a } = limitedApp({ policy, now: clock.now, live: { ttlMs: 0, timeoutMs: 20 } });
    const hung = { list: () => new Promise(() => {}), get: () => new Promise(() => {}) };
    const response = await send(a, '/x', freshIp(), {}, policyFor(hung));
    expect(response.status).toBe(200);
    expect(response.headers.get('X-RateLimit-Remaining')).toBe('1');
  });
});

describe('the live configuration cache', () => {
  it('keeps serving a snapshot while it refreshes it, so no request waits on KV once one read has finished', async () => {
    const config = new LiveConfig({ ttlMs: 1_000, timeoutMs: 10_000 });
    let reads = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      list: async ({ prefix }: { prefix: string }) => {
        // One read lists two prefixes; count reads by the first.
        if (prefix === 'override:') reads++;
        if (reads > 1) await gate;
        return { keys: [], list_complete: true, cacheStatus: null };
      },
      get: async () => null,
    } as unknown as KVNamespace;
    const first = await config.current(slow, T0);
    expect(first?.loadedAt).toBe(T0);
    // Stale but within two ttls: answered at once from the old snapshot while a read is under way.
    const stale = await config.current(slow, T0 + 1_500);
    expect(stale?.loadedAt).toBe(T0);
    expect(reads).toBe(2);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect((await config.current(slow, T0 + 1_600))?.loadedAt).toBe(T0 + 1_500);
  });
});
