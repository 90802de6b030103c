import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../../src/policy/schema';
import { ipKey } from '../../../src/request/client-ip';
import { captureLogs, freshIp, from, testApp } from './harness';

/**
 * Two limits on one key: `kept` counts only 2xx responses (reserved before the
 * origin, released when the origin fails), `all` counts every admitted request.
 */
const policy: PolicyInput = {
  name: 'origin-faults',
  rules: [
    {
      name: 'per-ip',
      key: 'ip',
      limits: [
        { name: 'kept', limit: 2, window: '1h', countWhen: { status: ['2xx'] } },
        { name: 'all', limit: 100, window: '1h' },
      ],
    },
  ],
};

async function counters(ip: string): Promise<Record<string, number>> {
  const stub = env.RATE_LIMITER.getByName(`ip=${ipKey(ip, { ipv4Prefix: 32, ipv6Prefix: 64 })}`);
  const snapshot = await stub.inspect(Date.now());
  return Object.fromEntries(snapshot.limits.map((l) => [l.id, l.decision.used]));
}

let logs: ReturnType<typeof captureLogs>;
beforeEach(() => (logs = captureLogs()));
afterEach(() => logs.restore());

describe('when the origin fails', () => {
  const CASES: Array<[string, string, string, number]> = [
    ['is down (connection refused)', 'http://127.0.0.1:1', '/x', 502],
    ['resets the connection', String(env.ORIGIN_URL), '/reset', 502],
    ['does not answer in time', String(env.ORIGIN_URL), '/slow/5000', 504],
  ];

  it.each(CASES)(
    'the client gets the failure when the origin %s, and outcome-counted reservations are released',
    async (_, originUrl, path, status) => {
      const app = testApp(policy, { forward: { originUrl, timeoutMs: 100 } });
      const ip = freshIp();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await app.request(path, from(ip))).status);
      // Past the `kept` limit of 2: every failure gave its reservation back, so none was refused.
      expect(statuses).toEqual([status, status, status, status, status]);
      expect(await counters(ip)).toEqual({ 'per-ip/kept': 0, 'per-ip/all': 5 });
      // The origin comes back: the full budget of successes is still there.
      const healthy = testApp(policy, { forward: { originUrl: env.ORIGIN_URL, timeoutMs: 5000 } });
      const after: number[] = [];
      for (let i = 0; i < 3; i++) after.push((await healthy.request('/ok', from(ip))).status);
      expect(after).toEqual([200, 200, 429]);
      expect(await counters(ip)).toEqual({ 'per-ip/kept': 2, 'per-ip/all': 7 });
    },
  );

  it('origin error statuses (5xx it answered) release the reservation too, and the status passes through', async () => {
    const app = testApp(policy, { forward: { originUrl: env.ORIGIN_URL, timeoutMs: 5000 } });
    const ip = freshIp();
    const response = await app.request('/status/503', from(ip));
    expect(response.status).toBe(503);
    expect(response.headers.get('x-demo-origin')).toBe('1');
    expect(await counters(ip)).toEqual({ 'per-ip/kept': 0, 'per-ip/all': 1 });
  });

  it('a failure body never leaks origin details and is not cached', async () => {
    const app = testApp(policy, { forward: { originUrl: 'http://127.0.0.1:1', timeoutMs: 100 } });
    const response = await app.request('/x', from(freshIp()));
    expect(response.status).toBe(502);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(await response.json()).toEqual({ detail: 'Origin unreachable.' });
  });

  it('concurrent requests while the origin is down never overshoot the reservation limit, and all give back', async () => {
    // The origin timeout is long enough that all ten are decided while the first two still hold their reservations.
    const app = testApp(policy, { forward: { originUrl: env.ORIGIN_URL, timeoutMs: 1000 } });
    const ip = freshIp();
    const statuses = await Promise.all(Array.from({ length: 10 }, () => app.request('/slow/5000', from(ip)).then((r) => r.status)));
    // At most `kept` requests hold a reservation at once; the rest are refused while they do.
    expect(statuses.filter((s) => s === 504).length).toBe(2);
    expect(statuses.filter((s) => s === 429).length).toBe(8);
    expect(await counters(ip)).toEqual({ 'per-ip/kept': 0, 'per-ip/all': 2 });
  });
});
