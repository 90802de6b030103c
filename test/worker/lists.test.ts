import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../src/policy/schema';
import { sha256Hex } from '../../src/request/credentials';
import { freshIp, limitedApp, send } from '../support/app';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 15 * 3_600_000;
const kv = env.RATE_LIMIT_CONFIG;

afterEach(async () => {
  const { keys } = await kv.list({ prefix: 'list:' });
  await Promise.all(keys.map((k) => kv.delete(k.name)));
});

const policy = async (): Promise<PolicyInput> => ({
  name: 'lists',
  onError: { mode: 'open', timeoutMs: 10_000 },
  identity: { credential: 'bearer', defaultTier: 'token' },
  allow: { ips: ['192.0.2.0/28'], countries: [], asns: [], credentials: [await sha256Hex('partner-token')] },
  block: { ips: ['2001:db8:bad::/48', '198.51.100.66'], countries: ['KP'], asns: [64_512], credentials: [await sha256Hex('leaked-token')] },
  rules: [{ name: 'tight', key: 'ip', limits: [{ limit: 1, window: '1h' }] }],
});

async function statusOf(app: ReturnType<typeof limitedApp>['app'], ip: string, init: RequestInit & { cf?: Record<string, unknown> } = {}) {
  const response = await send(app, '/x', ip, init);
  await response.arrayBuffer();
  return response.status;
}

describe('allow and block lists of the policy', () => {
  it('refuse with 403 by IPv6 range, IPv4 address, country, ASN and credential', async () => {
    const { app } = limitedApp({ policy: await policy(), now: () => T0 });
    expect(await statusOf(app, '2001:db8:bad:1::9')).toBe(403);
    expect(await statusOf(app, '2001:db8:bad:ffff:1:2:3:4')).toBe(403);
    expect(await statusOf(app, '::ffff:198.51.100.66')).toBe(403);
    expect(await statusOf(app, freshIp(), { cf: { country: 'KP' } })).toBe(403);
    expect(await statusOf(app, freshIp(), { cf: { asn: 64_512 } })).toBe(403);
    expect(await statusOf(app, freshIp(), { headers: { Authorization: 'Bearer leaked-token' } })).toBe(403);
    // Next door is not blocked.
    expect(await statusOf(app, '2001:db8:bae::1')).toBe(200);
    expect(await statusOf(app, freshIp(), { cf: { country: 'KR', asn: 64_513 } })).toBe(200);
  });

  it('let allowed addresses and credentials past every limit', async () => {
    const { app } = limitedApp({ policy: await policy(), now: () => T0 });
    const partner = [];
    for (let i = 0; i < 5; i++) partner.push(await statusOf(app, '192.0.2.7'));
    expect(partner).toEqual([200, 200, 200, 200, 200]);
    const ip = freshIp();
    const withToken = [];
    for (let i = 0; i < 3; i++) withToken.push(await statusOf(app, ip, { headers: { Authorization: 'Bearer partner-token' } }));
    expect(withToken).toEqual([200, 200, 200]);
    expect([await statusOf(app, ip), await statusOf(app, ip)]).toEqual([200, 429]);
  });

  it('take live entries from KV by IPv6 prefix, country, ASN and credential, and drop them at their expiry', async () => {
    // Later than the isolate's cached snapshot of live configuration (read by the tests above) is fresh.
    let now = T0 + 120_000;
    const { app } = limitedApp({
      policy: {
        name: 'live-lists',
        onError: { mode: 'open', timeoutMs: 10_000 },
        identity: { credential: 'bearer', defaultTier: 'token' },
        rules: [{ name: 'open', key: 'ip', limits: [{ limit: 1000, window: '1h' }] }],
      },
      now: () => now,
    });
    const until = new Date(T0 + 600_000).toISOString();
    await kv.put(`list:block:ip:2001:db8:77::/48`, JSON.stringify({ reason: 'scanner', expires: until }));
    await kv.put('list:block:country:XX', '{}');
    await kv.put('list:block:asn:64999', '{}');
    await kv.put(`list:block:credential:${await sha256Hex('stolen')}`, '{}');
    expect(await statusOf(app, '2001:db8:77:1::1')).toBe(403);
    expect(await statusOf(app, freshIp(), { cf: { country: 'XX' } })).toBe(403);
    expect(await statusOf(app, freshIp(), { cf: { asn: 64_999 } })).toBe(403);
    expect(await statusOf(app, freshIp(), { headers: { Authorization: 'Bearer stolen' } })).toBe(403);
    expect(await statusOf(app, freshIp(), { headers: { Authorization: 'Bearer honest' } })).toBe(200);
    now = T0 + 600_000;
    expect(await statusOf(app, '2001:db8:77:1::1')).toBe(200);
  });
});
