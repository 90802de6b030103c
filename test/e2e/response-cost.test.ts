import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

let dev: DevServer;
beforeAll(async () => {
  dev = await startDev();
});
afterAll(async () => {
  await dev?.stop();
});

const get = (path: string, ip: string) => fetch(`${dev.url}${path}`, { headers: { 'CF-Connecting-IP': ip } });

/** The `r` of one limit's item in a `RateLimit` field. */
function remaining(field: string | null, policy: string): number | undefined {
  const item = field?.split(', ').find((i) => i.startsWith(`"${policy}";`));
  const r = item && /;r=(\d+)/.exec(item)?.[1];
  return r ? Number(r) : undefined;
}

describe('wrangler dev with the example policy: cost reported by a real origin', () => {
  it('a response with X-Cost: 10 spends exactly 10 units of the graphql budget, and the client never sees the header', async () => {
    const ip = '203.0.113.60';
    const first = await get('/graphql?cost=10', ip);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-demo-origin')).toBe('1');
    expect(first.headers.get('X-Cost')).toBeNull();
    // Admitted on its advance of 1, it shows the budget after the charge of 9 more.
    expect(remaining(first.headers.get('RateLimit'), 'graphql/points')).toBe(990);
    await first.arrayBuffer();

    // The next request reports no cost, so it keeps its advance of 1: 1000 - 10 - 1.
    const second = await get('/graphql', ip);
    expect(second.status).toBe(200);
    expect(remaining(second.headers.get('RateLimit'), 'graphql/points')).toBe(989);
    await second.arrayBuffer();

    const quota = (await (await get('/.well-known/ratelimit', ip)).json()) as { limits: Array<Record<string, unknown>> };
    expect(quota.limits.find((l) => l.policy === 'graphql/points')).toMatchObject({
      limit: 1000,
      used: 11,
      remaining: 989,
      costFromResponse: true,
    });
  });

  it('a malformed cost keeps the advance and is logged without the key', async () => {
    const ip = '203.0.113.61';
    for (const cost of ['ten', '-1']) {
      const response = await get(`/graphql?cost=${cost}`, ip);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const next = await get('/graphql', ip);
    expect(remaining(next.headers.get('RateLimit'), 'graphql/points')).toBe(997);
    await next.arrayBuffer();
    const logged = dev.output();
    expect(logged).toContain('"event":"response_cost_invalid","rule":"graphql","header":"X-Cost","reason":"malformed"');
    expect(logged).not.toContain(ip);
  });
});
