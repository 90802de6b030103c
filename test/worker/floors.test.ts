import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import defaultPolicy from '../../src/presets/default';
import { freshIp, limitedApp, manualClock, send } from '../support/app';
import { countingNamespace } from './counting-namespace';

/** A minute boundary two days ahead of the real clock. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 12 * 3_600_000;

/** The example policy with a clock the test moves, and a timeout a busy machine cannot turn into a fail-open. */
function exampleApp(start = T0 + 1_000) {
  const clock = manualClock(start);
  const { app } = limitedApp({ policy: { ...defaultPolicy, onError: { mode: 'open', timeoutMs: 10_000 } }, now: clock.now });
  return { app, clock };
}

const madeUpToken = () => ({ Authorization: `Bearer ${crypto.randomUUID()}` });

/** One request; its body read so the origin connection is released. */
async function hit(
  app: ReturnType<typeof exampleApp>['app'],
  path: string,
  ip: string,
  headers: Record<string, string> = {},
  bindings: object = env,
) {
  const response = await send(app, path, ip, { headers }, bindings);
  const text_ = await response.text();
  return Object.assign(response, { text_ });
}

describe('the example policy against made-up credentials', { timeout: 120_000 }, () => {
  it('bounds what one address gets through at 600 a minute, whatever bearer token each request carries', async () => {
    const { app } = exampleApp();
    const ip = freshIp();
    const statuses: number[] = [];
    let reachedOrigin = 0;
    for (let i = 0; i < 605; i++) {
      const response = await hit(app, '/hello', ip, madeUpToken());
      statuses.push(response.status);
      if (response.headers.get('x-demo-origin') === '1') reachedOrigin++;
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(600);
    expect(statuses.slice(600)).toEqual([429, 429, 429, 429, 429]);
    expect(reachedOrigin).toBe(600);
    const refused = await hit(app, '/hello', ip, madeUpToken());
    expect(refused.status).toBe(429);
    expect(refused.headers.get('RateLimit')).toContain('"per-address/1m";r=0');
    // The quota endpoint shows the address's count, whichever token asks.
    const quota = await hit(app, '/.well-known/ratelimit', ip, madeUpToken());
    const limits = (JSON.parse(quota.text_) as { limits: Array<{ rule: string; used: number }> }).limits;
    expect(limits.find((l) => l.rule === 'per-address')?.used).toBe(600);
    // Another address is not affected.
    expect((await hit(app, '/hello', freshIp(), madeUpToken())).status).toBe(200);
  });

  it('leaves one real token at its full rate below the ceiling', async () => {
    const { app, clock } = exampleApp();
    const ip = freshIp();
    const token = madeUpToken();
    const statuses: number[] = [];
    // 5 a second for a minute, the per-token rate: 300 requests, all admitted.
    for (let i = 0; i < 300; i++) {
      statuses.push((await hit(app, '/hello', ip, token)).status);
      clock.advance(200);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});

describe("the example policy counts the origin's 401 and 403 answers per address", { timeout: 120_000 }, () => {
  it('refuses an address at the edge after 20 failed authentications, whatever it asks next; another address is unaffected', async () => {
    const { app, clock } = exampleApp();
    const counting = countingNamespace(env.RATE_LIMITER);
    const bindings = { ...env, RATE_LIMITER: counting.namespace };
    const ip = freshIp();
    const failures: number[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await hit(app, `/private?status=${i % 2 === 0 ? 401 : 403}`, ip, madeUpToken(), bindings);
      expect(response.headers.get('x-demo-origin')).toBe('1');
      // A limit counting failures is not what a caller plans its requests by: it stays out of the headers while it admits.
      expect(response.headers.get('RateLimit')).not.toContain('auth-failures');
      failures.push(response.status);
    }
    expect(failures).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 401 : 403)));
    // One charge per counted failure.
    expect(counting.calls.charge).toBe(20);

    const refused = await hit(app, '/private?status=401', ip, madeUpToken(), bindings);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-demo-origin')).toBeNull();
    expect(refused.headers.get('RateLimit')).toContain('"auth-failures/10m";r=0');
    expect(Number(refused.headers.get('Retry-After'))).toBe(599);
    expect(JSON.parse(refused.text_)).toMatchObject({
      status: 429,
      detail: 'Too many failed authentications from your address. Retry in 599 seconds.',
    });
    // The address is refused for anything now, with or without a credential, before the origin is asked.
    expect((await hit(app, '/hello', ip, {}, bindings)).status).toBe(429);
    expect((await hit(app, '/hello', ip, madeUpToken(), bindings)).status).toBe(429);
    expect(counting.calls.charge).toBe(20);

    // The quota endpoint reports the count and what it counts.
    const quota = JSON.parse((await hit(app, '/.well-known/ratelimit', ip, {}, bindings)).text_) as {
      limits: Array<Record<string, unknown>>;
    };
    expect(quota.limits.find((l) => l.rule === 'auth-failures')).toEqual({
      rule: 'auth-failures',
      name: '10m',
      policy: 'auth-failures/10m',
      algorithm: 'fixed-window',
      limit: 20,
      windowSeconds: 600,
      used: 20,
      remaining: 0,
      resetAt: new Date(T0 + 600_000).toISOString(),
      countsResponses: [401, 403],
    });

    const other = await hit(app, '/private?status=401', freshIp(), madeUpToken(), bindings);
    expect(other.status).toBe(401);
    expect(other.headers.get('x-demo-origin')).toBe('1');

    // Once the window has passed, the address is admitted again.
    clock.set(T0 + 600_000 + 1_000);
    expect((await hit(app, '/hello', ip, {}, bindings)).status).toBe(200);
  });

  it('costs no object call for successful responses beyond the one check per key', async () => {
    const { app } = exampleApp();
    const counting = countingNamespace(env.RATE_LIMITER);
    const bindings = { ...env, RATE_LIMITER: counting.namespace };
    const ip = freshIp();
    // Anonymous: every matching rule is keyed on the address, so one call decides them all.
    for (let i = 0; i < 5; i++) expect((await hit(app, '/hello', ip, {}, bindings)).status).toBe(200);
    expect(counting.total()).toBe(5);
    // A 404 is not counted either.
    expect((await hit(app, '/hello?status=404', ip, {}, bindings)).status).toBe(404);
    expect(counting.total()).toBe(6);
    expect(counting.calls.charge).toBeUndefined();
  });
});

describe("the example policy's quota endpoint", { timeout: 60_000 }, () => {
  it('answers one address 60 times a minute, then refuses it, so it cannot be polled as an oracle for which tokens exist', async () => {
    const { app, clock } = exampleApp();
    const ip = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await hit(app, '/.well-known/ratelimit', ip, madeUpToken())).status);
    expect(statuses).toEqual([...Array(60).fill(200), 429]);
    const refused = await hit(app, '/.well-known/ratelimit', ip, madeUpToken());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    // Reads spend nothing of the address's request budgets, and another address may still read.
    expect((await hit(app, '/hello', ip)).status).toBe(200);
    expect((await hit(app, '/.well-known/ratelimit', freshIp())).status).toBe(200);
    clock.set(T0 + 61_000);
    expect((await hit(app, '/.well-known/ratelimit', ip)).status).toBe(200);
  });
});
