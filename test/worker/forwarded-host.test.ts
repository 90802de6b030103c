import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { forwardedHost } from '../../src/http/forward';
import { rateLimit } from '../../src/http/middleware';
import type { PolicyInput } from '../../src/policy/schema';
import { createApp } from '../../src/worker';
import { freshIp } from '../support/app';

const worker = createApp();
const cloudsmith = { ...env, POLICY: 'cloudsmith' };

/** One anonymous request through the standalone worker, sent to `host`; the body is read so the origin connection is released. */
async function through(host: string, path: string, ip: string, bindings: object = cloudsmith) {
  const response = await worker.request(`http://${host}${path}`, { headers: { 'CF-Connecting-IP': ip } }, bindings);
  const body = await response.text();
  return { response, body };
}

describe('with ORIGIN_URL, rules match the host requests are forwarded to', () => {
  it("a client's Host does not pick another host's limits: npm.cloudsmith.io gets the API's 1,800 / hour, as the origin serves it", async () => {
    const ip = freshIp();
    for (const host of ['npm.cloudsmith.io', 'docker.cloudsmith.io', 'dl.cloudsmith.io', 'api.cloudsmith.io']) {
      const { response } = await through(host, '/acme/repo/react', ip);
      expect(response.status, host).toBe(200);
      expect(response.headers.get('X-RateLimit-Limit'), host).toBe('1800');
    }
    // Every host spent the one budget of the one origin.
    const { response } = await through('npm.cloudsmith.io', '/acme/repo/react', ip);
    expect(response.headers.get('X-RateLimit-Remaining')).toBe('1795');
  });

  it('the quota endpoint reports the rules of the forwarded host too', async () => {
    const { response, body } = await through('npm.cloudsmith.io', '/.well-known/ratelimit?path=/acme/repo/react', freshIp());
    expect(response.status).toBe(200);
    expect((JSON.parse(body) as { limits: Array<{ rule: string; limit: number }> }).limits.map((l) => [l.rule, l.limit])).toEqual([
      ['api-anonymous', 1800],
    ]);
  });
});

describe('the middleware host option', () => {
  const policy: PolicyInput = {
    name: 'hosts',
    rules: [
      { name: 'api', match: { hosts: ['api.example.test'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
      { name: 'origin', match: { hosts: ['origin.example.test'] }, key: 'ip', limits: [{ limit: 5, window: '1h' }] },
    ],
  };
  const appWith = (host?: () => string | undefined) => {
    const app = new Hono();
    app.use('*', rateLimit({ policy, now: () => Date.UTC(2030, 0, 1), ...(host ? { host } : {}) }));
    app.all('*', (c) => c.text('ok'));
    return app;
  };
  const limitOf = async (app: Hono, url: string, ip: string) =>
    (await app.request(url, { headers: { 'CF-Connecting-IP': ip } }, env)).headers.get('RateLimit-Policy') ?? '';

  it('by default matches the host the request was sent to', async () => {
    const app = appWith();
    expect(await limitOf(app, 'http://api.example.test/x', freshIp())).toBe('"api/1h";q=1;w=3600');
    expect(await limitOf(app, 'http://origin.example.test/x', freshIp())).toBe('"origin/1h";q=5;w=3600');
  });

  it('given a host, matches that one whatever the request says', async () => {
    const app = appWith(() => 'Origin.Example.Test.');
    expect(await limitOf(app, 'http://api.example.test/x', freshIp())).toBe('"origin/1h";q=5;w=3600');
  });

  it('refuses a host option that is not a function when the middleware is built', () => {
    expect(() => rateLimit({ policy, host: 'origin.example.test' as never })).toThrow('rateLimit: option "host" must be a function');
  });
});

describe('forwardedHost', () => {
  it("is the origin's host name, or undefined without an origin", () => {
    expect(forwardedHost('https://Origin.example.com:8443/base/')).toBe('origin.example.com');
    expect(forwardedHost('http://127.0.0.1:9000')).toBe('127.0.0.1');
    expect(forwardedHost(undefined)).toBeUndefined();
    expect(forwardedHost('')).toBeUndefined();
  });
});
