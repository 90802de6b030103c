import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

let dev: DevServer;
beforeAll(async () => {
  dev = await startDev();
});
afterAll(async () => {
  await dev?.stop();
});

describe('wrangler dev tells a client why it was refused', () => {
  it('the 429 carries RateLimit-Reason and a problem body naming the limit in violated-policies', async () => {
    const ip = '203.0.113.80';
    let refused: Response | undefined;
    for (let i = 0; i < 11 && !refused; i++) {
      const response = await fetch(`${dev.url}/why`, { headers: { 'CF-Connecting-IP': ip } });
      if (response.status === 429) refused = response;
      else {
        expect(response.headers.get('RateLimit-Reason')).toBeNull();
        await response.arrayBuffer();
      }
    }
    expect(refused?.status).toBe(429);
    expect(refused!.headers.get('RateLimit-Reason')).toBe('rate');
    expect(refused!.headers.get('Content-Type')).toBe('application/problem+json');
    const body = (await refused!.json()) as { type: string; 'violated-policies': string[] };
    expect(body.type).toBe('https://iana.org/assignments/http-problem-types#quota-exceeded');
    expect(body['violated-policies']).toEqual(['per-ip/1m']);
    // The name is the one RateLimit-Policy gives the limit, so a client can look it up there.
    expect(refused!.headers.get('RateLimit-Policy')).toContain('"per-ip/1m";q=10;w=60');
  });
});
