import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { BLOCKED_BODY, unavailableProblem } from '../../src/http/test-support';
import type { PolicyInput } from '../../src/policy/schema';
import { freshIp, limitedApp, send } from '../support/app';
import { fakeLimiter, from, testApp } from './faults/harness';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 9 * 3_600_000;
const generous = { mode: 'open' as const, timeoutMs: 10_000 };

interface Problem {
  readonly type: string;
  readonly status: number;
  readonly 'violated-policies'?: string[];
}

describe('a refused request says why', () => {
  it('through the worker: the 429 names the limit in violated-policies and RateLimit-Reason says rate', async () => {
    const ip = freshIp();
    let response: Response | undefined;
    for (let i = 0; i < 11; i++) {
      response = await exports.default.fetch('http://api.example.test/why', { headers: { 'CF-Connecting-IP': ip } });
      if (response.status === 429) break;
      await response.arrayBuffer();
    }
    expect(response!.status).toBe(429);
    expect(response!.headers.get('RateLimit-Reason')).toBe('rate');
    expect(response!.headers.get('Content-Type')).toBe('application/problem+json');
    const body = (await response!.json()) as Problem;
    expect(body['violated-policies']).toEqual(['per-ip/1m']);
    expect(response!.headers.get('RateLimit-Policy')).toContain('"per-ip/1m"');
  }, 30_000); // the worker's first request starts its Durable Object and origin connection

  it('a daily limit refuses with quota', async () => {
    const policy: PolicyInput = {
      name: 'daily',
      onError: generous,
      rules: [{ name: 'api', key: 'ip', limits: [{ limit: 1, window: '1d' }] }],
    };
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    await (await send(app, '/x', ip)).arrayBuffer();
    const refused = await send(app, '/x', ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('RateLimit-Reason')).toBe('quota');
    expect(((await refused.json()) as Problem)['violated-policies']).toEqual(['api/1d']);
  });

  it("a ban answered with 429 refuses with ban, naming the banning rule's limit", async () => {
    const policy: PolicyInput = {
      name: 'banning',
      onError: generous,
      rules: [
        { name: 'login', key: 'ip', limits: [{ limit: 1, window: '1m' }], ban: { after: 2, within: '1m', duration: '1h', status: 429 } },
      ],
    };
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    const reasons: Array<[number, string | null]> = [];
    for (let i = 0; i < 3; i++) {
      const response = await send(app, '/login', ip);
      reasons.push([response.status, response.headers.get('RateLimit-Reason')]);
      if (i === 2) expect(((await response.json()) as Problem)['violated-policies']).toEqual(['login/1m']);
      else await response.arrayBuffer();
    }
    expect(reasons).toEqual([
      [200, null],
      [429, 'rate'],
      [429, 'ban'],
    ]);
  });

  it('a block list refuses with block, and its body names the list only', async () => {
    const policy: PolicyInput = {
      name: 'blocking',
      onError: generous,
      block: { ips: ['198.51.100.66'], countries: [], asns: [], credentials: [] },
      rules: [{ name: 'api', key: 'ip', limits: [{ limit: 10, window: '1m' }] }],
    };
    const { app } = limitedApp({ policy, now: () => T0 });
    const response = await send(app, '/x', '198.51.100.66');
    expect(response.status).toBe(403);
    expect(response.headers.get('RateLimit-Reason')).toBe('block');
    expect(await response.json()).toEqual(BLOCKED_BODY);
  });

  it('a fail-closed fault answers 503 with unavailable, naming the limit that could not be asked', async () => {
    const fake = fakeLimiter(() => Promise.reject(new Error('storage unavailable')));
    const app = testApp(
      {
        name: 'closed',
        rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 5, window: '1m' }], onError: { mode: 'closed', timeoutMs: 1000 } }],
      },
      { bindings: { RATE_LIMITER: fake.namespace } },
    );
    const response = await app.request('/orders', from(freshIp()));
    expect(response.status).toBe(503);
    expect(response.headers.get('RateLimit-Reason')).toBe('unavailable');
    expect(await response.json()).toMatchObject(unavailableProblem(['per-ip/1m']));
  });

  it("takes the policy's header name, and sends none when it is off", async () => {
    const refusedWith = async (reasonHeader: string | false) => {
      const policy: PolicyInput = {
        name: 'named',
        onError: generous,
        response: { reasonHeader },
        rules: [{ name: 'api', key: 'ip', limits: [{ limit: 0, window: '1m' }] }],
      };
      const { app } = limitedApp({ policy, now: () => T0 });
      const response = await send(app, '/x', freshIp());
      await response.arrayBuffer();
      return [response.status, [...response.headers].filter(([h]) => h.includes('reason'))];
    };
    expect(await refusedWith('Acme-Limited-Reason')).toEqual([429, [['acme-limited-reason', 'rate']]]);
    expect(await refusedWith(false)).toEqual([429, []]);
  });
});
