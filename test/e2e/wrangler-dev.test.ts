import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

let dev: DevServer;
beforeAll(async () => {
  dev = await startDev();
});
afterAll(async () => {
  await dev?.stop();
});

const get = (path: string, headers: Record<string, string>) => fetch(`${dev.url}${path}`, { headers });

/** A client that honours Retry-After: on a 429 it waits the given seconds and tries again, a bounded number of times. */
async function politeGet(path: string, headers: Record<string, string>, maxAttempts = 3) {
  const waits: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const response = await get(path, headers);
    if (response.status !== 429 || attempt === maxAttempts) return { response, waits };
    const seconds = Number(response.headers.get('Retry-After'));
    waits.push(seconds);
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }
}

describe('wrangler dev with the example policy in front of a real origin', () => {
  it('turns 200s into a 429 for one client, and the origin only sees the admitted ones', async () => {
    const ip = '203.0.113.50';
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get('/e2e', { 'CF-Connecting-IP': ip })).status);
    expect(statuses).toEqual([...Array(10).fill(200), 429, 429]);
    const refused = await get('/e2e', { 'CF-Connecting-IP': ip });
    expect(refused.headers.get('x-demo-origin')).toBeNull();
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { status: number }).status).toBe(429);
  });

  it('forwards method, path, query and body unchanged', async () => {
    const response = await fetch(`${dev.url}/echo/path?q=1&r=two`, {
      method: 'POST',
      body: 'x'.repeat(1000),
      headers: { 'CF-Connecting-IP': '203.0.113.51' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ origin: 'demo', method: 'POST', path: '/echo/path', query: '?q=1&r=two', bytes: 1000 });
  });

  it('a client honouring Retry-After gets every request through, waiting when told', async () => {
    const token = { Authorization: 'Bearer e2e-polite-client', 'CF-Connecting-IP': '203.0.113.52' };
    // 15 requests at once against a burst of 10 at 5 per second: some must wait. At once, so the
    // burst is spent however long each request takes (sent one after another, slow ones refill it).
    const results = await Promise.all(Array.from({ length: 15 }, () => politeGet('/burst', token)));
    const waits: number[] = [];
    for (const result of results) {
      expect(result.response.status).toBe(200);
      waits.push(...result.waits);
    }
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((w) => w === 1)).toBe(true);
  });

  it('ignores a spoofed X-Forwarded-For', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++)
      statuses.push((await get('/spoof', { 'CF-Connecting-IP': '203.0.113.53', 'X-Forwarded-For': `10.0.0.${i}` })).status);
    expect(statuses.at(-1)).toBe(429);
  });
});
