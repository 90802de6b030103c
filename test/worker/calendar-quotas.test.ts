import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { identityRow } from '../../src/identity/record';
import { sha256Hex } from '../../src/request/credentials';
import { freshIp, limitedApp, manualClock, send } from '../support/app';

const policy = {
  name: 'billing',
  quota: { path: '/.well-known/ratelimit' },
  identity: { credential: 'bearer' as const, defaultTier: 'free', records: true },
  onError: { mode: 'closed' as const, timeoutMs: 10_000 },
  response: { headers: ['ietf' as const] },
  rules: [{ name: 'api', key: { identity: 'subject' as const }, limits: [{ limit: 3, period: 'month' as const }] }],
};

/** A customer: a fresh token whose identity record (written as the API's backend would) holds `billing`. */
async function customer(limiter: ReturnType<typeof limitedApp>['limiter'], billing: Record<string, unknown>) {
  const token = `sk_${crypto.randomUUID()}`;
  const hash = await sha256Hex(token);
  const subject = `cust-${crypto.randomUUID()}`;
  const write = async (extra: Record<string, unknown>) => {
    await env.RATE_LIMIT_CONFIG.put(identityRow(hash), JSON.stringify({ subject, tier: 'pro', ...billing, ...extra }));
    limiter.handle.limiter.identityChanged(hash);
  };
  await write({});
  return { headers: { Authorization: `Bearer ${token}` }, write };
}

/**
 * A common (non-leap) year after this one: the key's object deletes rows
 * whose period has ended by its own clock, so the tests' clocks run ahead of it.
 */
const Y = (() => {
  let y = new Date().getUTCFullYear() + 1;
  while (new Date(Date.UTC(y, 1, 29)).getUTCMonth() === 1) y++;
  return y;
})();
/** An ISO time in year Y (`Y` in the text stands for it). */
const at = (iso: string) => Date.parse(iso.replace(/^Y/, String(Y)));
const isoAt = (iso: string) => new Date(at(iso)).toISOString();

async function spend(app: ReturnType<typeof limitedApp>['app'], headers: Record<string, string>, n: number) {
  const out: Response[] = [];
  for (let i = 0; i < n; i++) {
    const response = await send(app, '/v1/items', freshIp(), { headers });
    await response.arrayBuffer();
    out.push(response);
  }
  return out;
}

describe('billing-anchored monthly quotas', { timeout: 60_000 }, () => {
  it("resets on the customer's billing date, and Retry-After and RateLimit count to it", async () => {
    const clock = manualClock(at('Y-04-16T23:00:00Z'));
    const { app, limiter } = limitedApp({ policy, now: clock.now });
    const { headers } = await customer(limiter, { billingAnchor: `${Y}-03-17T00:00:00Z` });
    const responses = await spend(app, headers, 4);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(responses[0]!.headers.get('RateLimit')).toBe('"api/month";r=2;t=3600');
    expect(responses[0]!.headers.get('RateLimit-Policy')).toBe('"api/month";q=3;w=2592000');
    expect(responses[3]!.headers.get('Retry-After')).toBe('3600');
    clock.set(at('Y-04-17T00:00:00Z'));
    const next = await spend(app, headers, 1);
    expect(next[0]!.status).toBe(200);
    // The next period ends on 17 May.
    expect(next[0]!.headers.get('RateLimit')).toBe(`"api/month";r=2;t=${(at('Y-05-17T00:00:00Z') - at('Y-04-17T00:00:00Z')) / 1000}`);
  });

  it('clamps an anchor on the 31st to the end of February, in the time zone the record names', async () => {
    // Midnight in New York is 05:00Z in winter.
    const clock = manualClock(at('Y-02-27T12:00:00Z'));
    const { app, limiter } = limitedApp({ policy, now: clock.now });
    const { headers } = await customer(limiter, { billingAnchor: `${Y}-01-31`, timeZone: 'America/New_York' });
    const responses = await spend(app, headers, 4);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(responses[3]!.headers.get('Retry-After')).toBe(String((at('Y-02-28T05:00:00Z') - clock.now()) / 1000));
    clock.set(at('Y-02-28T04:59:59Z'));
    expect((await spend(app, headers, 1))[0]!.status).toBe(429);
    clock.set(at('Y-02-28T05:00:00Z'));
    expect((await spend(app, headers, 1))[0]!.status).toBe(200);
  });

  it('keeps the units used when the plan changes mid-period', async () => {
    const clock = manualClock(at('Y-06-10T08:00:00Z'));
    const { app, limiter } = limitedApp({ policy, now: clock.now });
    const { headers, write } = await customer(limiter, { billingAnchor: `${Y}-03-17` });
    expect((await spend(app, headers, 4)).map((r) => r.status)).toEqual([200, 200, 200, 429]);
    // An upgrade to 5 a month leaves 2 of this period, not 5.
    await write({ limits: { 'api/month': 5 } });
    clock.advance(60_000);
    const upgraded = await spend(app, headers, 3);
    expect(upgraded.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(upgraded[0]!.headers.get('RateLimit-Policy')).toBe('"api/month";q=5;w=2592000');
    // A downgrade below what is used refuses until the period ends (17 June).
    await write({ limits: { 'api/month': 1 } });
    const downgraded = await spend(app, headers, 1);
    expect(downgraded[0]!.status).toBe(429);
    expect(downgraded[0]!.headers.get('Retry-After')).toBe(String((at('Y-06-17T00:00:00Z') - clock.now()) / 1000));
  });

  it('the quota endpoint reports the plan in force and the real period, before and after spending', async () => {
    const clock = manualClock(at('Y-02-20T10:00:00Z'));
    const { app, limiter } = limitedApp({ policy, now: clock.now });
    const { headers } = await customer(limiter, {
      billingAnchor: '2024-02-29T09:30',
      timeZone: 'Europe/Berlin',
      limits: { 'api/month': 100_000 },
    });
    const read = async () => {
      const response = await send(app, '/.well-known/ratelimit', freshIp(), { headers });
      expect(response.status).toBe(200);
      return ((await response.json()) as { limits: Array<Record<string, unknown>> }).limits;
    };
    const period = { unit: 'month', start: isoAt('Y-01-29T08:30:00Z'), end: isoAt('Y-02-28T08:30:00Z'), timeZone: 'Europe/Berlin' };
    /** The month's limit as the endpoint reports it, with what has been spent of it. */
    const month = (spent: { used: number; remaining: number }) => ({
      rule: 'api',
      name: 'month',
      policy: 'api/month',
      algorithm: 'fixed-window',
      limit: 100_000,
      windowSeconds: 2_592_000,
      ...spent,
      resetAt: period.end,
      period,
    });
    expect(await read()).toEqual([month({ used: 0, remaining: 100_000 })]);
    await spend(app, headers, 2);
    clock.advance(2_000);
    expect(await read()).toEqual([month({ used: 2, remaining: 99_998 })]);
  });

  it('customers without a billing anchor share the calendar month', async () => {
    const clock = manualClock(at('Y-07-31T23:59:00Z'));
    const { app, limiter } = limitedApp({ policy, now: clock.now });
    const { headers } = await customer(limiter, {});
    const responses = await spend(app, headers, 4);
    expect(responses[3]!.headers.get('Retry-After')).toBe('60');
  });

  it("an override's plan replaces the record's, keeps the units used and may name its own anchor", async () => {
    const clock = manualClock(at('Y-09-05T12:00:00Z'));
    const { app, limiter } = limitedApp({ policy, now: clock.now, live: { ttlMs: 0, timeoutMs: 5_000 } });
    const subject = `cust-${crypto.randomUUID()}`;
    const token = `sk_${crypto.randomUUID()}`;
    const hash = await sha256Hex(token);
    await env.RATE_LIMIT_CONFIG.put(
      identityRow(hash),
      JSON.stringify({ subject, tier: 'pro', billingAnchor: `${Y}-03-17`, limits: { 'api/month': 2 } }),
    );
    limiter.handle.limiter.identityChanged(hash);
    const headers = { Authorization: `Bearer ${token}` };
    expect((await spend(app, headers, 3)).map((r) => r.status)).toEqual([200, 200, 429]);
    const override = `override:api:subject:${subject}`;
    try {
      // The operator grants 4 this period: the 2 used stay used. Without an anchor of its own the record's applies (17th).
      await env.RATE_LIMIT_CONFIG.put(
        override,
        JSON.stringify({ limits: [{ name: 'month', limit: 4, period: 'month' }], reason: 'upgrade' }),
      );
      const granted = await spend(app, headers, 3);
      expect(granted.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(granted[2]!.headers.get('Retry-After')).toBe(String((at('Y-09-17T00:00:00Z') - clock.now()) / 1000));
      // An override naming its own anchor moves the period: the 1st of the month, in Tokyo.
      await env.RATE_LIMIT_CONFIG.put(
        override,
        JSON.stringify({ limits: [{ name: 'month', limit: 4, period: { unit: 'month', anchor: `${Y}-01-01`, timeZone: 'Asia/Tokyo' } }] }),
      );
      const moved = await spend(app, headers, 1);
      expect(moved[0]!.status).toBe(200);
      expect(moved[0]!.headers.get('RateLimit')).toBe(`"api/month";r=3;t=${(at('Y-09-30T15:00:00Z') - clock.now()) / 1000}`);
    } finally {
      await env.RATE_LIMIT_CONFIG.delete(override);
    }
  });
});
