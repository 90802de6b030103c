import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

describe('the worker', () => {
  it('forwards an admitted request to the origin and adds rate-limit headers', async () => {
    const response = await exports.default.fetch('http://api.example.test/hello?x=1', { headers: { 'CF-Connecting-IP': '198.51.100.1' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ origin: 'demo', method: 'GET', path: '/hello', query: '?x=1' });
    expect(response.headers.get('RateLimit-Policy')).toBe('"per-ip/1m";q=10;w=60');
    expect(env.ORIGIN_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
