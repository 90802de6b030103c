import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import keygen from '../../../src/presets/keygen';
import { freshIp } from '../../support/app';
import { call, presetApp, runs, statuses, T0 } from './support';

describe('the Keygen preset', { timeout: 60_000 }, () => {
  it("lets a client IP make 60 requests per 30 s window, then answers 429 with Keygen's headers and JSON:API body", async () => {
    const { app, clock } = presetApp(keygen);
    const ip = freshIp();
    clock.set(T0 + 1_000);
    const first = await call(app, '/v1/accounts/demo/licenses', { ip }, env);
    expect(first.status).toBe(200);
    expect(first.headers.get('X-RateLimit-Window')).toBe('30s');
    expect(first.headers.get('X-RateLimit-Count')).toBe('1');
    expect(first.headers.get('X-RateLimit-Limit')).toBe('60');
    expect(first.headers.get('X-RateLimit-Remaining')).toBe('59');
    expect(first.headers.get('X-RateLimit-Reset')).toBe(String((T0 + 30_000) / 1000));
    expect(first.headers.has('Retry-After')).toBe(false);

    expect(runs(await statuses(app, 60, '/v1/me', { ip }, env))).toEqual([
      [200, 59],
      [429, 1],
    ]);
    clock.set(T0 + 12_000);
    const refused = await call(app, '/v1/me', { ip }, env);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('18');
    expect(refused.headers.get('X-RateLimit-Window')).toBe('30s');
    // Refused requests count, as in Keygen's own example (Count 501 of 500).
    expect(refused.headers.get('X-RateLimit-Count')).toBe('62');
    expect(refused.headers.get('X-RateLimit-Limit')).toBe('60');
    expect(refused.headers.get('X-RateLimit-Remaining')).toBe('0');
    expect(refused.headers.get('Content-Type')).toBe('application/vnd.api+json');
    expect(JSON.parse(refused.text_)).toEqual({
      errors: [{ title: 'Too many requests', detail: 'Throttle limit has been reached for your IP address.', code: 'TOO_MANY_REQUESTS' }],
    });
  });

  it('names the window closest to its limit, percentage-wise: 5m once 500 requests in five minutes near', async () => {
    const { app, clock } = presetApp(keygen);
    const ip = freshIp();
    // 9 windows of 30 s with 55 requests each: 495 of 500 in the five-minute window.
    for (let w = 0; w < 9; w++) {
      clock.set(T0 + w * 30_000);
      expect(runs(await statuses(app, 55, '/v1/me', { ip }, env))).toEqual([[200, 55]]);
    }
    clock.set(T0 + 9 * 30_000);
    const near = await call(app, '/v1/me', { ip }, env);
    expect(near.headers.get('X-RateLimit-Window')).toBe('5m');
    expect(near.headers.get('X-RateLimit-Count')).toBe('496');
    expect(near.headers.get('X-RateLimit-Limit')).toBe('500');
    expect(near.headers.get('X-RateLimit-Remaining')).toBe('4');
    expect(near.headers.get('X-RateLimit-Reset')).toBe(String((T0 + 300_000) / 1000));
    expect(runs(await statuses(app, 5, '/v1/me', { ip }, env))).toEqual([
      [200, 4],
      [429, 1],
    ]);
    const refused = await call(app, '/v1/me', { ip }, env);
    expect(refused.headers.get('X-RateLimit-Window')).toBe('5m');
    expect(refused.headers.get('Retry-After')).toBe('30');
  });

  it('counts per token and IP: the same license token from another address, or another token, has its own budget', async () => {
    const { app } = presetApp(keygen);
    const [a, b] = [freshIp(), freshIp()];
    const token = { Authorization: `Bearer activ-${crypto.randomUUID()}` };
    expect(runs(await statuses(app, 61, '/v1/me', { ip: a, headers: token }, env))).toEqual([
      [200, 60],
      [429, 1],
    ]);
    expect((await call(app, '/v1/me', { ip: b, headers: token }, env)).status).toBe(200);
    expect((await call(app, '/v1/me', { ip: a, headers: { Authorization: `License key-${crypto.randomUUID()}` } }, env)).status).toBe(200);
  });

  it('gives admin, environment and product tokens the server-side limits', async () => {
    const { app } = presetApp(keygen);
    for (const prefix of ['admin', 'env', 'prod']) {
      const response = await call(
        app,
        '/v1/accounts/demo/machines',
        { ip: freshIp(), headers: { Authorization: `Bearer ${prefix}-${crypto.randomUUID()}` } },
        env,
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('X-RateLimit-Limit')).toBe('600');
    }
    const user = await call(app, '/v1/me', { ip: freshIp(), headers: { Authorization: `Bearer user-${crypto.randomUUID()}` } }, env);
    expect(user.headers.get('X-RateLimit-Limit')).toBe('60');
    // Both server-side windows, as the token's own quota report shows them: 600 per 30 s and 5,000 per 5 minutes.
    const quota = await call(
      app,
      '/.well-known/ratelimit',
      { ip: freshIp(), headers: { Authorization: `Bearer admin-${crypto.randomUUID()}` } },
      env,
    );
    expect(
      JSON.parse(quota.text_).limits.map((l: { rule: string; name: string; limit: number }) => `${l.rule} ${l.name} ${l.limit}`),
    ).toEqual(['server-token 30s 600', 'server-token 5m 5000']);
  });

  it('blacklists an address temporarily after 1,000 refusals within five minutes (403 for an hour)', async () => {
    const { app, clock } = presetApp(keygen);
    const ip = freshIp();
    clock.set(T0 + 3_600_000);
    // The 1,000th refusal is the one that bans.
    expect(runs(await statuses(app, 1_059, '/v1/me', { ip }, env))).toEqual([
      [200, 60],
      [429, 999],
    ]);
    const banned = await call(app, '/v1/me', { ip }, env);
    expect(banned.status).toBe(403);
    expect(JSON.parse(banned.text_).errors[0].detail).toBe('Your IP address has been temporarily blocked because of abuse.');
    clock.advance(30_000);
    expect((await call(app, '/v1/me', { ip }, env)).status).toBe(403);
    // The IP is blacklisted, not the anonymous key alone: a token (client or server side) does not get it back in.
    expect((await call(app, '/v1/me', { ip, headers: { Authorization: 'Bearer user-fresh' } }, env)).status).toBe(403);
    expect((await call(app, '/v1/me', { ip, headers: { Authorization: 'Bearer admin-fresh' } }, env)).status).toBe(403);
    clock.advance(3_600_000);
    expect((await call(app, '/v1/me', { ip }, env)).status).toBe(200);
    expect((await call(app, '/v1/me', { ip, headers: { Authorization: 'Bearer user-fresh' } }, env)).status).toBe(200);
  });
});
