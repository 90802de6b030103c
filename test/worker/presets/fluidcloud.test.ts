import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import fluidcloud from '../../../src/presets/fluidcloud';
import { freshIp } from '../../support/app';
import { call, presetApp, runs, statuses, T0 } from './support';

const apiKey = () => ({ 'X-API-Key': `fck_live_${crypto.randomUUID()}` });

describe('the FluidCloud preset', { timeout: 60_000 }, () => {
  it('caps every key at 600 requests per fixed 60 s window; Retry-After is the seconds to the roll-over', async () => {
    const { app, clock } = presetApp(fluidcloud);
    const who = { ip: freshIp(), headers: apiKey() };
    clock.set(T0 + 5_000);
    expect(runs(await statuses(app, 601, '/api/v1/files', who, env))).toEqual([
      [200, 600],
      [429, 1],
    ]);
    clock.set(T0 + 43_000);
    const refused = await call(app, '/api/v1/files', who, env);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('17');
    expect(refused.headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(refused.text_)).toEqual({ detail: 'Too many requests — please slow down and try again shortly.' });
    // Only Retry-After: FluidCloud sends no rate-limit headers.
    expect([...refused.headers.keys()].filter((h) => h.includes('ratelimit'))).toEqual([]);
    clock.set(T0 + 60_000);
    expect((await call(app, '/api/v1/files', who, env)).status).toBe(200);
  });

  it('never answers a Retry-After over 60', async () => {
    const { app, clock } = presetApp(fluidcloud);
    const who = { ip: freshIp(), headers: apiKey(), method: 'POST' };
    clock.set(T0 + 120_000);
    expect(runs(await statuses(app, 31, '/api/v1/uploads/import-url', who, env))).toEqual([
      [200, 30],
      [429, 1],
    ]);
    for (const at of [120_000, 120_001, 150_000, 179_999]) {
      clock.set(T0 + at);
      const wait = Number((await call(app, '/api/v1/uploads/import-url', who, env)).headers.get('Retry-After'));
      expect(wait).toBe(Math.ceil((T0 + 180_000 - (T0 + at)) / 1000));
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(60);
    }
  });

  it('counts the per-action caps independently of each other and of the global cap', async () => {
    const { app, clock } = presetApp(fluidcloud);
    const key = apiKey();
    const post = { ip: freshIp(), headers: key, method: 'POST' };
    clock.set(T0 + 240_000);
    expect(runs(await statuses(app, 121, '/api/v1/shares', post, env))).toEqual([
      [200, 120],
      [429, 1],
    ]);
    // The share cap is spent; uploads and URL imports still have their whole budgets.
    expect(runs(await statuses(app, 301, '/api/v1/uploads', post, env))).toEqual([
      [200, 300],
      [429, 1],
    ]);
    expect(runs(await statuses(app, 31, '/api/v1/uploads/import-url', post, env))).toEqual([
      [200, 30],
      [429, 1],
    ]);
    // 450 admitted so far count toward the global 600; refusals do not.
    expect(runs(await statuses(app, 151, '/api/v1/files', { ip: post.ip, headers: key }, env))).toEqual([
      [200, 150],
      [429, 1],
    ]);
    // Another key is untouched.
    expect((await call(app, '/api/v1/shares', { ...post, headers: apiKey() }, env)).status).toBe(200);
  });

  it('limits requests without a key per client IP, so they cannot reach the origin unbounded', async () => {
    const { app, clock } = presetApp(fluidcloud);
    const ip = freshIp();
    clock.set(T0 + 300_000);
    expect(runs(await statuses(app, 601, '/api/v1/files', { ip }, env))).toEqual([
      [200, 600],
      [429, 1],
    ]);
  });
});
