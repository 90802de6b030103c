import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { type RateLimitOptions, rateLimit } from './middleware';

const policy = {
  name: 'm',
  onError: { mode: 'open' as const, timeoutMs: 10_000 },
  rules: [{ name: 'r', key: 'ip' as const, limits: [{ limit: 1, window: '1h' }] }],
};

describe('rateLimit', () => {
  it.each([
    [{ binding: 'not a binding' }, 'rateLimit: option "binding" must be a binding name such as "RATE_LIMITER"'],
    [{ kvBinding: '' }, 'rateLimit: option "kvBinding" must be a binding name such as "RATE_LIMITER"'],
    [{ now: 1_800_000_000_000 }, 'rateLimit: option "now" must be a function'],
    [{ overrides: true }, 'rateLimit: option "overrides" must be false or a function'],
    [{ coalesce: 'yes' }, 'rateLimit: option "coalesce" must be true or false'],
    [{ denyCache: {} }, 'rateLimit: option "denyCache" must be false or a DenyCache'],
    [{ live: { ttlMs: -1 } }, 'rateLimit: option "live.ttlMs" must be a whole number of milliseconds, 0 or more'],
    [{ live: { timeoutMs: 0.5 } }, 'rateLimit: option "live.timeoutMs" must be a positive whole number'],
    [{ onRefused: 'json' }, 'rateLimit: option "onRefused" must be a function'],
  ])('refuses %j when it is built, naming the option', (bad, message) => {
    expect(() => rateLimit({ policy, ...(bad as Partial<RateLimitOptions>) })).toThrow(message);
  });

  it('refuses an invalid policy when it is built, naming the rule and field', () => {
    expect(() => rateLimit({ policy: { ...policy, rules: [{ name: 'r', key: 'ip', limits: [{ limit: -1, window: '1h' }] }] } })).toThrow(
      /rules\[0\] "r"\.limits\[0\]\.limit/,
    );
  });

  it('is a named handler that sets the verdict as a typed context variable, and lets the caller shape refusals', async () => {
    const limiter = rateLimit({
      policy,
      now: () => 1_800_000_000_000,
      onRefused: (_c, verdict, response) => {
        const shaped = new Response(response.body, response);
        shaped.headers.set('Access-Control-Allow-Origin', '*');
        shaped.headers.set('X-Refused-By', verdict.refusedBy?.name ?? '');
        return shaped;
      },
    });
    expect(limiter.name).toBe('rateLimit');
    const app = new Hono();
    app.use('*', limiter);
    app.get('*', (c) => c.json({ kind: c.get('rateLimit').kind, remaining: c.get('rateLimit').results[0]!.decision.remaining }));
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 20}`;
    const first = await app.request('http://a.test/x', { headers: { 'CF-Connecting-IP': ip } }, env);
    expect(await first.json()).toEqual({ kind: 'allow', remaining: 0 });
    const second = await app.request('http://a.test/x', { headers: { 'CF-Connecting-IP': ip } }, env);
    expect(second.status).toBe(429);
    expect(second.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(second.headers.get('X-Refused-By')).toBe('r');
    expect(second.headers.get('Retry-After')).not.toBeNull();
  });
});
