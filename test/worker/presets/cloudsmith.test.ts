import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { identityRow } from '../../../src/identity/record';
import cloudsmith from '../../../src/presets/cloudsmith';
import { sha256Hex } from '../../../src/request/credentials';
import { freshIp } from '../../support/app';
import { call, presetApp, runs, statuses, T0 } from './support';

/** An API key with an identity record, as Cloudsmith's backend would write it when issuing the key. */
async function issueKey(record: { subject: string; org?: string; tier: string }) {
  const key = crypto.randomUUID().replaceAll('-', '');
  await env.RATE_LIMIT_CONFIG.put(identityRow(await sha256Hex(key)), JSON.stringify(record));
  return { 'X-Api-Key': key };
}

describe('the Cloudsmith preset', { timeout: 60_000 }, () => {
  it("gives anonymous callers 1,800 requests an hour per IP, with Cloudsmith's headers and throttled detail", async () => {
    const { app, clock } = presetApp(cloudsmith);
    const ip = freshIp();
    clock.set(T0 + 600_000);
    const first = await call(app, '/user/self/', { ip }, env);
    expect(first.status).toBe(200);
    expect(first.headers.get('X-RateLimit-Limit')).toBe('1800');
    expect(first.headers.get('X-RateLimit-Remaining')).toBe('1799');
    expect(first.headers.get('X-RateLimit-Reset')).toBe(String((T0 + 3_600_000) / 1000));
    // Seconds to wait between requests to spread what is left over the window: 3,000 s over 1,799 requests.
    expect(Number(first.headers.get('X-RateLimit-Interval'))).toBeCloseTo(3000 / 1799, 9);
    expect(runs(await statuses(app, 1_800, '/user/self/', { ip }, env))).toEqual([
      [200, 1_799],
      [429, 1],
    ]);
    clock.set(T0 + 600_000 + 442);
    const refused = await call(app, '/user/self/', { ip }, env);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('3000');
    expect(refused.headers.get('X-RateLimit-Interval')).toBe('2999.558');
    expect(refused.headers.get('X-RateLimit-Limit')).toBe('1800');
    expect(refused.headers.get('X-RateLimit-Remaining')).toBe('0');
    expect(refused.headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(refused.text_)).toEqual({ detail: 'Request was throttled. Expected available in 3000.0 seconds.' });
  }, 60_000);

  it('limits authenticated users by plan, from the identity record of their key; an unknown key counts as Core', async () => {
    const { app } = presetApp(cloudsmith);
    const limitOf = async (headers: Record<string, string>) =>
      (await call(app, '/user/self/', { ip: freshIp(), headers }, env)).headers.get('X-RateLimit-Limit');
    expect(await limitOf(await issueKey({ subject: `u-${crypto.randomUUID()}`, tier: 'core' }))).toBe('5400');
    expect(await limitOf(await issueKey({ subject: `u-${crypto.randomUUID()}`, tier: 'pro' }))).toBe('10800');
    expect(await limitOf(await issueKey({ subject: `u-${crypto.randomUUID()}`, tier: 'velocity' }))).toBe('10800');
    expect(await limitOf(await issueKey({ subject: `u-${crypto.randomUUID()}`, tier: 'enterprise' }))).toBe('10800');
    expect(await limitOf({ 'X-Api-Key': crypto.randomUUID() })).toBe('5400');
  });

  it('counts per user: two keys of one user, from two addresses, share one budget', async () => {
    const { app } = presetApp(cloudsmith);
    const subject = `u-${crypto.randomUUID()}`;
    const [a, b] = [await issueKey({ subject, tier: 'core' }), await issueKey({ subject, tier: 'core' })];
    expect((await call(app, '/repos/', { ip: freshIp(), headers: a }, env)).headers.get('X-RateLimit-Remaining')).toBe('5399');
    expect((await call(app, '/repos/', { ip: freshIp(), headers: b }, env)).headers.get('X-RateLimit-Remaining')).toBe('5398');
  });

  it('limits package downloads on the default domain at 120,000 an hour, apart from the API budget', async () => {
    const { app } = presetApp(cloudsmith);
    const ip = freshIp();
    const download = await call(app, '/public/demo/raw/files/tool.tar.gz', { ip, host: 'dl.cloudsmith.io' }, env);
    expect(download.headers.get('X-RateLimit-Limit')).toBe('120000');
    expect(download.headers.get('X-RateLimit-Remaining')).toBe('119999');
    expect((await call(app, '/user/self/', { ip }, env)).headers.get('X-RateLimit-Remaining')).toBe('1799');
  });

  it('limits package metadata APIs at 1,512,000 an hour per region, user and organisation', async () => {
    const { app } = presetApp(cloudsmith);
    const headers = await issueKey({ subject: `u-${crypto.randomUUID()}`, org: 'acme', tier: 'pro' });
    const oregon = { ip: freshIp(), host: 'npm.cloudsmith.io', headers, cf: { region: 'Oregon' } };
    const meta = await call(app, '/acme/repo/react', oregon, env);
    expect(meta.headers.get('X-RateLimit-Limit')).toBe('1512000');
    expect(meta.headers.get('X-RateLimit-Remaining')).toBe('1511999');
    expect((await call(app, '/acme/repo/react', oregon, env)).headers.get('X-RateLimit-Remaining')).toBe('1511998');
    // Another region has a budget of its own.
    expect((await call(app, '/acme/repo/react', { ...oregon, cf: { region: 'Bavaria' } }, env)).headers.get('X-RateLimit-Remaining')).toBe(
      '1511999',
    );
  });

  it('limits package metadata for every caller: users without an organisation, requests without a region, anonymous callers per IP', async () => {
    const { app } = presetApp(cloudsmith);
    const remaining = async (who: Parameters<typeof call>[2]) =>
      (await call(app, '/acme/repo/react', { host: 'npm.cloudsmith.io', ...who }, env)).headers.get('X-RateLimit-Remaining');
    const loner = await issueKey({ subject: `u-${crypto.randomUUID()}`, tier: 'core' });
    expect(await remaining({ ip: freshIp(), headers: loner, cf: { region: 'Oregon' } })).toBe('1511999');
    expect(await remaining({ ip: freshIp(), headers: loner, cf: { region: 'Oregon' } })).toBe('1511998');
    // Without a region the user still has one budget, apart from the regional ones.
    expect(await remaining({ ip: freshIp(), headers: loner })).toBe('1511999');
    expect(await remaining({ ip: freshIp(), headers: loner })).toBe('1511998');
    // Anonymous callers: per region and address.
    const ip = freshIp();
    expect(await remaining({ ip, cf: { region: 'Oregon' } })).toBe('1511999');
    expect(await remaining({ ip, cf: { region: 'Oregon' } })).toBe('1511998');
    expect(await remaining({ ip: freshIp(), cf: { region: 'Oregon' } })).toBe('1511999');
    // The metadata budget is apart from the anonymous API budget.
    expect((await call(app, '/user/self/', { ip }, env)).headers.get('X-RateLimit-Remaining')).toBe('1799');
  });

  it('gives authenticated web app usage 10,800 an hour per user, apart from the API budget; anonymous app use counts as anonymous API use', async () => {
    const { app } = presetApp(cloudsmith);
    const headers = await issueKey({ subject: `u-${crypto.randomUUID()}`, tier: 'core' });
    const web = await call(app, '/acme/repos', { ip: freshIp(), host: 'app.cloudsmith.com', headers }, env);
    expect(web.headers.get('X-RateLimit-Limit')).toBe('10800');
    expect(web.headers.get('X-RateLimit-Remaining')).toBe('10799');
    expect((await call(app, '/user/self/', { ip: freshIp(), headers }, env)).headers.get('X-RateLimit-Limit')).toBe('5400');
    expect((await call(app, '/user/self/', { ip: freshIp(), headers }, env)).headers.get('X-RateLimit-Remaining')).toBe('5398');
    const anonymous = await call(app, '/login', { ip: freshIp(), host: 'app.cloudsmith.com' }, env);
    expect(anonymous.headers.get('X-RateLimit-Limit')).toBe('1800');
  });

  it('applies a custom limit to an Ultra or Enterprise customer through an override, without a redeploy', async () => {
    const { app, clock } = presetApp(cloudsmith);
    clock.set(T0 + 1_200_000);
    const subject = `u-${crypto.randomUUID()}`;
    const headers = await issueKey({ subject, org: 'bigco', tier: 'ultra' });
    expect((await call(app, '/user/self/', { ip: freshIp(), headers }, env)).headers.get('X-RateLimit-Limit')).toBe('10800');
    await env.RATE_LIMIT_CONFIG.put(
      `override:api-enterprise:subject:${subject}`,
      JSON.stringify({ limits: [{ name: '1h', limit: 50_000, window: '1h' }], reason: 'contract 42' }),
    );
    // The isolate's live configuration is read again after its cache time (30 s).
    clock.advance(61_000);
    await call(app, '/user/self/', { ip: freshIp(), headers }, env);
    const raised = await call(app, '/user/self/', { ip: freshIp(), headers }, env);
    expect(raised.headers.get('X-RateLimit-Limit')).toBe('50000');
  });
});
