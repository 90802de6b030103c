import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { limitedApp } from '../../test/support/app';
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
    const response = await app.request('http://api.example.test/v1/items?x=1', {
      method: 'PUT',
      body: 'twelve bytes',
      headers: { Connection: 'keep-alive', 'Keep-Alive': 'timeout=5' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ origin: 'demo', method: 'PUT', path: '/base/v1/items', query: '?x=1', bytes: 12 });
  });
});

describe('forwardToOrigin tells the origin the client address', () => {
  const rules = [{ name: 'per-ip', key: 'ip' as const, limits: [{ limit: 1000, window: '1m' }] }];
  const SPOOFED = { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.7', Forwarded: 'for=6.6.6.8' };
  /** The headers the real origin received for a request through `app`. */
  const received = async (app: Hono, headers: Record<string, string>) => {
    const response = await app.request('http://api.example.test/headers', { headers }, env);
    expect(response.status).toBe(200);
    return ((await response.json()) as { headers: Record<string, string> }).headers;
  };
  const told = (h: Record<string, string>) => ({ xff: h['x-forwarded-for'], realIp: h['x-real-ip'], forwarded: h.forwarded });

  it('behind the limiter, as X-Forwarded-For and X-Real-IP by default, and never what the client claimed', async () => {
    const { app } = limitedApp({ policy: { name: 'fwd-default', rules } });
    const headers = await received(app, { ...SPOOFED, 'CF-Connecting-IP': '203.0.113.70' });
    expect(told(headers)).toEqual({ xff: '203.0.113.70', realIp: '203.0.113.70', forwarded: undefined });
  });

  it('behind the limiter with a trusted proxy, keeping its chain, appending the hop the limiter used, and in Forwarded when asked', async () => {
    const policy = {
      name: 'fwd-proxy',
      rules,
      clientIp: { trustedProxyHeader: 'X-Forwarded-For' as const, trustedHops: 2 },
      forwardClientAddress: ['X-Forwarded-For' as const, 'X-Real-IP' as const, 'Forwarded' as const],
    };
    const { app } = limitedApp({ policy });
    const headers = await received(app, {
      ...SPOOFED,
      'X-Forwarded-For': 'spoofed, [2001:db8::9]:443, 10.0.0.9',
      'CF-Connecting-IP': '10.0.0.1',
    });
    expect(told(headers)).toEqual({
      xff: 'spoofed, [2001:db8::9]:443, 10.0.0.9, 2001:db8::9',
      realIp: '2001:db8::9',
      forwarded: 'for="[2001:db8::9]"',
    });
  });

  it("leaves the client's headers alone when the policy turns it off", async () => {
    const { app } = limitedApp({ policy: { name: 'fwd-off', rules, forwardClientAddress: false } });
    const headers = await received(app, { ...SPOOFED, 'CF-Connecting-IP': '203.0.113.71' });
    expect(told(headers)).toEqual({ xff: '6.6.6.6', realIp: '6.6.6.7', forwarded: 'for=6.6.6.8' });
  });

  it('without a limiter in front, tells CF-Connecting-IP and drops what the client claimed', async () => {
    const app = new Hono();
    app.all('*', (c) => forwardToOrigin(c, { originUrl: env.ORIGIN_URL }));
    const headers = await received(app, { ...SPOOFED, 'CF-Connecting-IP': '2001:DB8::70' });
    expect(told(headers)).toEqual({ xff: '2001:db8::70', realIp: '2001:db8::70', forwarded: undefined });
  });

  it("without this limiter, when another middleware used the context variable 'rateLimit' (hono-rate-limiter does), still answers and tells CF-Connecting-IP", async () => {
    const app = new Hono();
    app.use('*', async (c, next) => {
      c.set('rateLimit', { limit: 100, used: 1, remaining: 99 } as never);
      await next();
    });
    app.all('*', (c) => forwardToOrigin(c, { originUrl: env.ORIGIN_URL }));
    const headers = await received(app, { ...SPOOFED, 'CF-Connecting-IP': '203.0.113.71' });
    expect(told(headers)).toEqual({ xff: '203.0.113.71', realIp: '203.0.113.71', forwarded: undefined });
  });

  it("drops the headers the client's Connection header names, and Proxy-Authorization", async () => {
    const { app } = limitedApp({ policy: { name: 'fwd-hop', rules } });
    const headers = await received(app, {
      'CF-Connecting-IP': '203.0.113.72',
      Connection: 'close, X-Hop-Secret',
      'X-Hop-Secret': 'hop',
      'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
      'Keep-Alive': 'timeout=5',
      'X-Kept': 'end-to-end',
    });
    expect(headers['x-hop-secret']).toBeUndefined();
    expect(headers['proxy-authorization']).toBeUndefined();
    expect(headers['keep-alive']).toBeUndefined();
    expect(headers['x-kept']).toBe('end-to-end');
  });
});
