import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { forwardToOrigin, originTarget } from './forward';

describe('originTarget', () => {
  it.each([
    ['https://api.example.com/v1/items?page=2', undefined, 'https://api.example.com/v1/items?page=2'],
    ['https://api.example.com/v1/items?page=2', 'http://127.0.0.1:9000', 'http://127.0.0.1:9000/v1/items?page=2'],
    ['https://api.example.com/v1/items', 'https://backend.internal/api/', 'https://backend.internal/api/v1/items'],
    ['https://api.example.com/', 'https://backend.internal/api', 'https://backend.internal/api/'],
  ])('sends %s with ORIGIN_URL %s to %s', (request, origin, expected) => {
    expect(originTarget(request, origin)).toBe(expected);
  });
});

describe('forwardToOrigin', () => {
  it('keeps method, path under the origin base path, query and body, and drops hop-by-hop headers', async () => {
    const app = new Hono();
    app.all('*', (c) => forwardToOrigin(c, { originUrl: `${env.ORIGIN_URL}/base` }));
    const response = await app.request('http://api.example.test/v1/items?x=1', { method: 'PUT', body: 'twelve bytes', headers: { Connection: 'keep-alive', 'Keep-Alive': 'timeout=5' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ origin: 'demo', method: 'PUT', path: '/base/v1/items', query: '?x=1', bytes: 12 });
  });
});
