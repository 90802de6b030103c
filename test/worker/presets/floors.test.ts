import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Policy } from '../../../src/policy/schema';
import cloudsmith from '../../../src/presets/cloudsmith';
import fluidcloud from '../../../src/presets/fluidcloud';
import keygen from '../../../src/presets/keygen';
import rubygems from '../../../src/presets/rubygems';
import { freshIp } from '../../support/app';
import { type Call, call, presetApp, T0 } from './support';

/**
 * The floors each preset adds of its own (not from the provider's page): a
 * per-address ceiling and a count of the origin's 401 and 403 answers per
 * address. The providers' origins reject made-up credentials; the test
 * origin stands in for them with `?status=401`.
 */

/** The preset with its address ceiling lowered to `limit`, so a test can reach it in a few requests. */
function withCeiling(policy: Policy, limit: number): Policy {
  return {
    ...policy,
    rules: policy.rules.map((r) => (r.name === 'address-ceiling' ? { ...r, limits: r.limits.map((l) => ({ ...l, limit })) } : r)),
  };
}

/** `n` requests from one address, each with a credential of its own, as `who(i)` makes it; statuses in order and how many reached the origin. */
async function madeUp(app: ReturnType<typeof presetApp>['app'], n: number, path: string, who: (i: number) => Call, step?: () => void) {
  const statuses: number[] = [];
  let reachedOrigin = 0;
  let last: Awaited<ReturnType<typeof call>> | undefined;
  for (let i = 0; i < n; i++) {
    last = await call(app, path, who(i), env);
    statuses.push(last.status);
    if (last.headers.get('x-demo-origin') === '1') reachedOrigin++;
    step?.();
  }
  return { statuses, reachedOrigin, last: last! };
}

const uuid = () => crypto.randomUUID().replaceAll('-', '');

describe('floors the presets add of their own', { timeout: 120_000 }, () => {
  it('Cloudsmith: made-up API keys from one address reach the origin 100 times in 10 minutes, then are refused at the edge', async () => {
    const { app, clock } = presetApp(cloudsmith);
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses, reachedOrigin, last } = await madeUp(app, 105, '/user/self/?status=401', () => ({
      ip,
      headers: { 'X-Api-Key': uuid() },
    }));
    expect(statuses).toEqual([...Array(100).fill(401), ...Array(5).fill(429)]);
    expect(reachedOrigin).toBe(100);
    expect(JSON.parse(last.text_)).toEqual({ detail: 'Request was throttled. Expected available in 599.0 seconds.' });
    // Another address, and downloads too, are refused only by their own count.
    expect((await call(app, '/user/self/?status=401', { ip: freshIp(), headers: { 'X-Api-Key': uuid() } }, env)).status).toBe(401);
    expect((await call(app, '/pkg.tgz', { ip, host: 'dl.cloudsmith.io' }, env)).status).toBe(429);
  });

  it('Cloudsmith: one address gets at most the address ceiling of API requests, whatever keys it sends; documented headers unchanged until then', async () => {
    const { app, clock } = presetApp(withCeiling(cloudsmith, 5));
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses, last } = await madeUp(app, 6, '/user/self/', () => ({ ip, headers: { 'X-Api-Key': uuid() } }));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last.headers.get('X-RateLimit-Limit')).toBe('5');
    const admitted = await call(app, '/user/self/', { ip: freshIp(), headers: { 'X-Api-Key': uuid() } }, env);
    expect(admitted.headers.get('X-RateLimit-Limit')).toBe('5400');
  });

  it('FluidCloud: a fresh key per POST /uploads/import-url no longer escapes: 100 rejected keys, then refused at the edge', async () => {
    const { app, clock } = presetApp(fluidcloud);
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses, reachedOrigin, last } = await madeUp(app, 105, '/uploads/import-url?status=401', () => ({
      ip,
      method: 'POST',
      headers: { 'X-API-Key': `fck_live_${uuid()}` },
    }));
    expect(statuses).toEqual([...Array(100).fill(401), ...Array(5).fill(429)]);
    expect(reachedOrigin).toBe(100);
    expect(JSON.parse(last.text_)).toEqual({ detail: 'Too many requests — please slow down and try again shortly.' });
  });

  it('FluidCloud: one address gets at most the address ceiling, whatever keys it sends', async () => {
    const { app, clock } = presetApp(withCeiling(fluidcloud, 5));
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses } = await madeUp(app, 6, '/uploads/import-url', () => ({
      ip,
      method: 'POST',
      headers: { 'X-API-Key': `fck_live_${uuid()}` },
    }));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('Keygen: made-up admin tokens get the server-side tier by their prefix, but Keygen rejects them: 100 from one address, then refused at the edge', async () => {
    const { app, clock } = presetApp(keygen);
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses, reachedOrigin, last } = await madeUp(
      app,
      105,
      '/v1/accounts/demo/machines?status=401',
      () => ({ ip, headers: { Authorization: `Bearer admin-anything-${uuid()}` } }),
      () => clock.advance(100),
    );
    expect(statuses).toEqual([...Array(100).fill(401), ...Array(5).fill(429)]);
    expect(reachedOrigin).toBe(100);
    expect(JSON.parse(last.text_).errors[0]).toMatchObject({ title: 'Too many requests', code: 'TOO_MANY_REQUESTS' });
    // Once refused, the address's real client-side callers wait as well: the floor is per address.
    expect((await call(app, '/v1/me', { ip }, env)).status).toBe(429);
  });

  it('Keygen: made-up admin tokens, each a fresh server-side budget, get no more than the address ceiling together', async () => {
    const { app, clock } = presetApp(withCeiling(keygen, 5));
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses, last } = await madeUp(app, 6, '/v1/accounts/demo/machines', () => ({
      ip,
      headers: { Authorization: `Bearer admin-${uuid()}` },
    }));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // The refusing window with the longer wait: the five-minute one.
    expect(last.headers.get('X-RateLimit-Window')).toBe('5m');
    expect(last.headers.get('X-RateLimit-Limit')).toBe('5');
  });

  it('RubyGems: made-up API keys on sensitive operations (each a fresh account) reach the origin 100 times, then are refused at the edge', async () => {
    const { app, clock } = presetApp(rubygems);
    clock.set(T0 + 1_000);
    const ip = freshIp();
    // Five a second, within the load balancer's cap of 10.
    const { statuses, reachedOrigin, last } = await madeUp(
      app,
      105,
      '/api/v1/gems/yank?status=401',
      () => ({ ip, method: 'DELETE', headers: { Authorization: uuid() } }),
      () => clock.advance(200),
    );
    expect(statuses).toEqual([...Array(100).fill(401), ...Array(5).fill(429)]);
    expect(reachedOrigin).toBe(100);
    expect(last.text_).toBe('Retry later\n');
  });

  it("Cloudsmith's quota endpoint answers one address 60 times a minute, so it is no unlimited oracle for which keys have a record", async () => {
    const { app, clock } = presetApp(cloudsmith);
    clock.set(T0 + 1_000);
    const ip = freshIp();
    const { statuses, reachedOrigin } = await madeUp(app, 61, '/.well-known/ratelimit', () => ({ ip, headers: { 'X-Api-Key': uuid() } }));
    expect(statuses).toEqual([...Array(60).fill(200), 429]);
    expect(reachedOrigin).toBe(0);
    expect((await call(app, '/.well-known/ratelimit', { ip: freshIp(), headers: { 'X-Api-Key': uuid() } }, env)).status).toBe(200);
  });
});
