import { describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../src/policy/schema';
import { freshIp, limitedApp, send } from '../support/app';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 9 * 3_600_000;
const generous = { mode: 'open' as const, timeoutMs: 10_000 };

describe('policy features through the worker', () => {
  it("headersOn 'limited': no rate-limit headers on admitted responses, all of them on the 429", async () => {
    const policy: PolicyInput = {
      name: 'quiet',
      onError: generous,
      response: { headers: ['ietf', 'x-ratelimit'], headersOn: 'limited' },
      rules: [{ name: 'r', key: 'ip', limits: [{ limit: 1, window: '1m' }] }],
    };
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    const admitted = await send(app, '/x', ip);
    expect([...admitted.headers.keys()].filter((h) => h.includes('ratelimit'))).toEqual([]);
    await admitted.arrayBuffer();
    const refused = await send(app, '/x', ip);
    expect(refused.status).toBe(429);
    expect([...refused.headers.keys()].filter((h) => h.includes('ratelimit')).sort()).toEqual([
      'ratelimit',
      'ratelimit-policy',
      'ratelimit-reason',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ]);
    await refused.arrayBuffer();
  });

  it('charges the cost a header names, bounded by its max, and the default without it', async () => {
    const policy: PolicyInput = {
      name: 'costly',
      onError: generous,
      rules: [{ name: 'batch', key: 'ip', cost: { header: 'X-Batch-Size', default: 1, max: 50 }, limits: [{ limit: 100, window: '1m' }] }],
    };
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    const remaining = async (headers: Record<string, string>) => {
      const response = await send(app, '/batch', ip, { headers });
      await response.arrayBuffer();
      return [response.status, response.headers.get('RateLimit')];
    };
    expect(await remaining({ 'X-Batch-Size': '30' })).toEqual([200, '"batch/1m";r=70;t=60']);
    expect(await remaining({})).toEqual([200, '"batch/1m";r=69;t=60']);
    // Past its max, the cost is the max; garbage costs the default.
    expect(await remaining({ 'X-Batch-Size': '1000000' })).toEqual([200, '"batch/1m";r=19;t=60']);
    expect(await remaining({ 'X-Batch-Size': '-5' })).toEqual([200, '"batch/1m";r=18;t=60']);
    expect((await remaining({ 'X-Batch-Size': '19' }))[0]).toBe(429);
  });

  it('keys by a field of request.cf: one budget per country, shared by every address in it', async () => {
    const policy: PolicyInput = {
      name: 'geo',
      onError: generous,
      rules: [{ name: 'per-country', key: { cf: 'country' }, limits: [{ limit: 2, window: '1m' }] }],
    };
    const { app } = limitedApp({ policy, now: () => T0 });
    const from = async (country: string) => {
      const response = await send(app, '/x', freshIp(), { cf: { country } } as RequestInit);
      await response.arrayBuffer();
      return response.status;
    };
    const country = `Z${String.fromCharCode(65 + Math.floor(Math.random() * 26))}`;
    expect([await from(country), await from(country), await from(country)]).toEqual([200, 200, 429]);
    expect(await from(`${country}X`)).toBe(200);
  });
});
