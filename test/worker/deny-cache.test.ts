import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/http/middleware';
import { countingNamespace } from './counting-namespace';

function app(options: { now: () => number; countRefused?: boolean }) {
  const counting = countingNamespace(env.RATE_LIMITER);
  const hono = new Hono();
  hono.use(
    '*',
    rateLimit({
      now: options.now,
      // Generous, so a slow test machine cannot fail a call open and skew the counts.
      policy: {
        name: 'flood',
        onError: { mode: 'open', timeoutMs: 10_000 },
        rules: [{ name: 'per-ip', key: 'ip', countRefused: options.countRefused ?? false, limits: [{ limit: 5, window: '1m' }] }],
      },
    }),
  );
  hono.get('*', (c) => c.text('ok'));
  const bindings = { ...env, RATE_LIMITER: counting.namespace };
  const get = (ip: string) => hono.request('http://api.example.test/x', { headers: { 'CF-Connecting-IP': ip } }, bindings);
  return { get, counting };
}

describe('the deny cache under a flood', () => {
  it('answers a refused key without calling its object until the retry time', async () => {
    let now = 1_800_000_000_000;
    const { get, counting } = app({ now: () => now });
    const statuses: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      const response = await get('203.0.113.50');
      statuses.push(response.status);
      if (i === 999) {
        expect(response.headers.get('Retry-After')).toBe('60');
        expect(response.headers.get('RateLimit')).toBe('"per-ip/1m";r=0;t=60');
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    // Five admissions and the first refusal reach the object; 994 refusals do not.
    expect(counting.calls.check).toBe(6);
    expect(counting.calls.check! / 995).toBeLessThanOrEqual(0.01);

    // At the retry time the key is asked again, and admits.
    now += 60_000;
    expect((await get('203.0.113.50')).status).toBe(200);
    expect(counting.calls.check).toBe(7);
  });

  it('shows the wait shrinking on cached refusals', async () => {
    let now = 1_800_000_000_000;
    const { get } = app({ now: () => now });
    for (let i = 0; i < 6; i++) await get('203.0.113.51');
    now += 30_000;
    const response = await get('203.0.113.51');
    expect(response.status).toBe(429);
    expect(response.headers.get('Retry-After')).toBe('30');
  });

  it('sends every refusal to the object when refusals count', async () => {
    const now = 1_800_000_000_000;
    const { get, counting } = app({ now: () => now, countRefused: true });
    for (let i = 0; i < 50; i++) await get('203.0.113.52');
    expect(counting.calls.check).toBe(50);
  });
});
