import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/http/middleware';
import type { PolicyInput } from '../../src/policy/schema';
import { freshIp, manualClock } from '../support/app';

// A minute boundary two days ahead: every test's fixed windows start here.
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 9 * 3_600_000;
const generous = { mode: 'open' as const, timeoutMs: 10_000 };

interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly 'violated-policies'?: string[];
}

const policy = (originHealth: Record<string, unknown> = {}): PolicyInput => ({
  name: 'health',
  onError: generous,
  originHealth: { rules: ['per-address'], window: '10s', minRequests: 4, errorRate: 0.5, every: '1s', recoverBy: 0.25, ...originHealth },
  rules: [
    { name: 'per-address', key: 'ip', match: { paths: ['/api/*'] }, limits: [{ limit: 10, window: '1m' }] },
    { name: 'uploads', key: 'ip', match: { paths: ['/upload'] }, limits: [{ limit: 10, window: '1m' }] },
  ],
});

/** An app with the limiter in front of an origin the test switches: its status, `Retry-After`, and how long it takes (on the test's clock). */
function appWith(input: PolicyInput) {
  const clock = manualClock(T0);
  const origin = { status: 200, retryAfter: undefined as string | undefined, latencyMs: 10, hits: 0 };
  const limiter = rateLimit({ policy: input, now: clock.now });
  const app = new Hono();
  app.use('*', limiter);
  app.all('*', (c) => {
    origin.hits++;
    clock.advance(origin.latencyMs);
    return c.json({ origin: 'test' }, origin.status as 200, origin.retryAfter ? { 'Retry-After': origin.retryAfter } : {});
  });
  const send = (path: string, ip: string) =>
    app.request(`http://api.example.test${path}`, { headers: { 'CF-Connecting-IP': ip } }, env) as Promise<Response>;
  return { app, clock, origin, send, limiter: limiter.handle.limiter };
}

/** Sends `n` requests from `ip` and returns their statuses; bodies are read so nothing is left open. */
async function statuses(send: (path: string, ip: string) => Promise<Response>, path: string, ip: string, n: number) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const response = await send(path, ip);
    await response.arrayBuffer();
    out.push(response.status);
  }
  return out;
}

describe('limits that follow the origin health', () => {
  it('while the origin fails, a request the reduced limit refuses but the full one admits gets a 503 temporary-reduced-capacity', async () => {
    const { send, origin, clock, limiter } = appWith(policy());
    const client = freshIp();
    // Six requests of the client's ten while the origin is healthy.
    expect(await statuses(send, '/api/a', client, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(limiter.capacity(clock.now())).toBe(1);

    // Six failures from other clients: half of the window's twelve answers are 5xx, so the limit is cut to 5.
    origin.status = 500;
    for (let i = 0; i < 6; i++) expect(await statuses(send, '/api/a', freshIp(), 1)).toEqual([500]);
    expect(limiter.capacity(clock.now())).toBe(0.5);
    origin.status = 200;

    const shed = await send('/api/a', client);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('Content-Type')).toBe('application/problem+json');
    expect(shed.headers.get('RateLimit-Reason')).toBe('capacity');
    expect(Number(shed.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    // The reduced limit in force, under the limit's usual name.
    expect(shed.headers.get('RateLimit-Policy')).toBe('"per-address/1m";q=5;w=60');
    expect(shed.headers.get('RateLimit')).toMatch(/^"per-address\/1m";r=0;t=\d+$/);
    const body = (await shed.json()) as Problem;
    expect(body).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
      title: 'Temporary reduced capacity',
      status: 503,
      'violated-policies': ['per-address/1m'],
    });
    expect(body.detail).toMatch(/reduced capacity/);
  });

  it('a request over the full limit still gets a 429 quota-exceeded while the origin is degraded', async () => {
    const { send, origin, clock, limiter } = appWith(policy());
    const client = freshIp();
    expect(await statuses(send, '/api/a', client, 10)).toEqual(Array(10).fill(200));
    origin.status = 500;
    for (let i = 0; i < 10; i++) await statuses(send, '/api/a', freshIp(), 1);
    expect(limiter.capacity(clock.now())).toBe(0.5);
    origin.status = 200;
    const refused = await send('/api/a', client);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('RateLimit-Reason')).toBe('rate');
    expect(((await refused.json()) as Problem).type).toBe('https://iana.org/assignments/http-problem-types#quota-exceeded');
  });

  it('admits the client again as capacity recovers step by step', async () => {
    const { send, origin, clock, limiter } = appWith(policy());
    const client = freshIp();
    expect(await statuses(send, '/api/a', client, 6)).toEqual(Array(6).fill(200));
    origin.status = 500;
    for (let i = 0; i < 6; i++) await statuses(send, '/api/a', freshIp(), 1);
    origin.status = 200;
    expect(limiter.capacity(clock.now())).toBe(0.5);
    expect(await statuses(send, '/api/a', client, 1)).toEqual([503]);
    // One step later (0.75): the limit is 7, so one more request fits, then none.
    clock.advance(1000);
    expect(limiter.capacity(clock.now())).toBe(0.75);
    expect(await statuses(send, '/api/a', client, 2)).toEqual([200, 503]);
    // Back at 1 the full ten apply again.
    clock.advance(1000);
    expect(limiter.capacity(clock.now())).toBe(1);
    expect(await statuses(send, '/api/a', client, 4)).toEqual([200, 200, 200, 429]);
  });

  it('cuts at once when the origin answers 503 with Retry-After, and holds the cut until then', async () => {
    const { send, origin, clock, limiter } = appWith(policy({ errorRate: undefined }));
    origin.status = 503;
    origin.retryAfter = '5';
    expect(await statuses(send, '/api/a', freshIp(), 1)).toEqual([503]);
    const cutAt = clock.now();
    expect(limiter.capacity(cutAt)).toBe(0.5);
    expect(limiter.capacity(cutAt + 4_999)).toBe(0.5);
    expect(limiter.capacity(cutAt + 6_000)).toBe(0.75);
  });

  it('cuts when the latency quantile goes above the threshold', async () => {
    const { send, origin, clock, limiter } = appWith(policy({ errorRate: undefined, latency: { p: 0.5, above: '2s' } }));
    origin.latencyMs = 2_500;
    await statuses(send, '/api/a', freshIp(), 4);
    expect(limiter.capacity(clock.now())).toBe(0.5);
  });

  it('leaves rules it does not name at their full limits', async () => {
    const { send, origin } = appWith(policy());
    const client = freshIp();
    origin.status = 500;
    await statuses(send, '/api/a', freshIp(), 4);
    origin.status = 200;
    expect(await statuses(send, '/upload', client, 11)).toEqual([...Array(10).fill(200), 429]);
    expect(await statuses(send, '/api/a', client, 6)).toEqual([200, 200, 200, 200, 200, 503]);
  });
});
