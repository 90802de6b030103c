import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PolicyInput } from '../../src/policy/schema';
import { freshIp, limitedApp, send } from '../support/app';
import { countingNamespace } from './counting-namespace';

// 09:00 on a day two days ahead, so every 1-minute window in a test is the same one.
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 9 * 3_600_000;
const generous = { mode: 'open' as const, timeoutMs: 10_000 };

type RuleInput = PolicyInput['rules'][number];

/** A policy of one rule on `/graphql` whose cost the test origin reports (`?cost=N` answers `X-Cost: N`). */
function policyOf(rule: Partial<RuleInput>, extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    name: 'reported',
    onError: generous,
    response: { headers: ['ietf', 'x-ratelimit'] },
    quota: { path: '/.well-known/ratelimit' },
    ...extra,
    rules: [
      {
        name: 'points',
        match: { paths: ['/graphql'] },
        key: 'ip',
        responseCost: { header: 'X-Cost', max: 50 },
        limits: [{ name: 'minute', limit: 100, window: '1m' }],
        ...rule,
      } as RuleInput,
    ],
  };
}

/** The app under `policy` at T0, and a client at a fresh address that sends and reads each answer whole. */
function client(policy: PolicyInput, bindings: object = env, now: () => number = () => T0) {
  const { app } = limitedApp({ policy, now });
  const ip = freshIp();
  return async (path: string) => {
    const response = await send(app, path, ip, {}, bindings);
    const body = await response.text();
    return { status: response.status, headers: response.headers, body };
  };
}

/** The report of the quota endpoint, limit by limit. */
async function quota(get: ReturnType<typeof client>) {
  const answer = await get('/.well-known/ratelimit');
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { limits: Array<Record<string, unknown>> }).limits;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('cost reported by the origin', () => {
  it('admits on the advance, then charges the difference: a reported 10 spends 10 units, and headers and quota say so in units', async () => {
    const get = client(policyOf({}));
    const first = await get('/graphql?cost=10');
    expect(first.status).toBe(200);
    // Admitted on its advance of 1, the response that reports 10 shows the budget after the charge.
    expect(first.headers.get('RateLimit')).toBe('"points/minute";r=90;t=60');
    expect(first.headers.get('X-RateLimit-Remaining')).toBe('90');
    const second = await get('/graphql');
    // 100 - 10 (reported) - 1 (this request's advance; it reports nothing).
    expect(second.headers.get('RateLimit')).toBe('"points/minute";r=89;t=60');
    expect(second.headers.get('RateLimit-Policy')).toBe('"points/minute";q=100;w=60');
    expect(second.headers.get('X-RateLimit-Limit')).toBe('100');
    expect(second.headers.get('X-RateLimit-Remaining')).toBe('89');
    expect(await quota(get)).toEqual([
      {
        rule: 'points',
        name: 'minute',
        policy: 'points/minute',
        algorithm: 'fixed-window',
        limit: 100,
        windowSeconds: 60,
        used: 11,
        remaining: 89,
        resetAt: new Date(Math.floor(T0 / 60_000) * 60_000 + 60_000).toISOString(),
        costFromResponse: true,
      },
    ]);
  });

  it('costs no object call when the reported cost equals the advance, and one call when it differs', async () => {
    const counting = countingNamespace(env.RATE_LIMITER);
    const get = client(policyOf({ cost: 2 }), { ...env, RATE_LIMITER: counting.namespace });
    await get('/graphql?cost=2');
    await get('/graphql?cost=x');
    expect(counting.calls).toEqual({ check: 2, lease: 0, release: 0, checkBatch: 0 });
    await get('/graphql?cost=5');
    expect(counting.calls).toEqual({ check: 3, lease: 0, release: 0, checkBatch: 0, charge: 1 });
    await get('/graphql?cost=1');
    expect(counting.calls).toEqual({ check: 4, lease: 0, release: 1, checkBatch: 0, charge: 1 });
  });

  it('refuses the next request once the charges have spent the budget, though each was admitted on its advance', async () => {
    const get = client(policyOf({}));
    expect((await get('/graphql?cost=50')).status).toBe(200);
    expect((await get('/graphql?cost=50')).status).toBe(200);
    const refused = await get('/graphql?cost=1');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('RateLimit')).toMatch(/^"points\/minute";r=0;t=\d+$/);
  });

  it('gives back the difference when the reported cost is below the advance, never more than was counted', async () => {
    const get = client(policyOf({ cost: 5 }));
    // Admitted at 95; the response shows the 3 it gives back.
    expect((await get('/graphql?cost=2')).headers.get('RateLimit')).toBe('"points/minute";r=98;t=60');
    // Admitted at 100 - 2 - 5 = 93 (3 of the first advance went back); it reports 0, so all 5 of its own go back.
    expect((await get('/graphql?cost=0')).headers.get('RateLimit')).toBe('"points/minute";r=98;t=60');
    expect((await quota(get))[0]).toMatchObject({ used: 2, remaining: 98 });
  });

  it('takes the advance from a request-header cost, as `cost` does without responseCost', async () => {
    const { app } = limitedApp({ policy: policyOf({ cost: { header: 'X-Batch', max: 20, default: 1 } }), now: () => T0 });
    const ip = freshIp();
    const first = await send(app, '/graphql?cost=4', ip, { headers: { 'X-Batch': '10' } });
    await first.arrayBuffer();
    expect(first.headers.get('RateLimit')).toBe('"points/minute";r=96;t=60');
    const second = await send(app, '/graphql', ip);
    await second.arrayBuffer();
    // 6 of the advance of 10 went back: 100 - 4 - 1.
    expect(second.headers.get('RateLimit')).toBe('"points/minute";r=95;t=60');
  });

  it('charges at most max, and logs that the value was capped', async () => {
    const log = vi.spyOn(console, 'log');
    const get = client(policyOf({}));
    await get('/graphql?cost=5000');
    expect((await get('/graphql')).headers.get('RateLimit')).toBe('"points/minute";r=49;t=60');
    const events = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(events).toContainEqual({ event: 'response_cost_capped', rule: 'points', header: 'X-Cost', max: 50, count: 1 });
  });

  it('shows the advance in the headers of a response whose cost is unusable, or whose origin failed', async () => {
    const get = client(policyOf({ cost: 2, limits: [{ name: 'minute', limit: 100, window: '1m', countWhen: { status: ['2xx'] } }] }));
    expect((await get('/graphql?cost=ten')).headers.get('RateLimit')).toBe('"points/minute";r=98;t=60');
    // A 500 keeps nothing (countWhen): no charge to show, and the reservation goes back after the response.
    expect((await get('/graphql?cost=40&status=500')).headers.get('RateLimit')).toBe('"points/minute";r=96;t=60');
    expect((await get('/graphql?cost=40')).headers.get('RateLimit')).toBe('"points/minute";r=58;t=60');
  });

  it('keeps the advance when the value is missing or malformed, and logs it by rule, header and reason, a line a second, never by key', async () => {
    const log = vi.spyOn(console, 'log');
    let now = T0;
    const get = client(policyOf({ cost: 2 }), env, () => now);
    const invalidLines = () =>
      log.mock.calls
        .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
        .filter((e) => e.event === 'response_cost_invalid');
    for (const path of ['/graphql', '/graphql?cost=abc', '/graphql?cost=-3', '/graphql?cost=2.5', '/graphql?cost=1e3'])
      expect((await get(path)).status).toBe(200);
    // Five requests at their advance of 2 each, and nothing charged or given back.
    expect((await quota(get))[0]).toMatchObject({ used: 10, remaining: 90 });
    // The first of each reason in a second is written; the other three malformed ones wait for the next line.
    expect(invalidLines()).toEqual([
      { event: 'response_cost_invalid', rule: 'points', header: 'X-Cost', reason: 'missing', count: 1 },
      { event: 'response_cost_invalid', rule: 'points', header: 'X-Cost', reason: 'malformed', count: 1 },
    ]);
    now = T0 + 1_000;
    await get('/graphql?cost=abc');
    expect(invalidLines().at(-1)).toEqual({
      event: 'response_cost_invalid',
      rule: 'points',
      header: 'X-Cost',
      reason: 'malformed',
      count: 4,
    });
    expect(invalidLines()).toHaveLength(3);
  });

  it('removes the cost header from what the client sees, on every response of the policy, unless the rule keeps it', async () => {
    const stripped = client(policyOf({}));
    const answer = await stripped('/graphql?cost=3');
    expect(answer.headers.get('X-Cost')).toBeNull();
    expect(answer.headers.get('x-demo-origin')).toBe('1');
    // A request no rule meets passes the middleware too: the origin's header is not shown there either.
    expect((await stripped('/elsewhere?cost=3')).headers.get('X-Cost')).toBeNull();

    const kept = client(policyOf({ responseCost: { header: 'X-Cost', max: 50, keep: true } }));
    expect((await kept('/graphql?cost=3')).headers.get('X-Cost')).toBe('3');
  });

  it('settles only what a countWhen limit keeps: a response its status gives back costs nothing, reported cost or not', async () => {
    const get = client(policyOf({ limits: [{ name: 'minute', limit: 100, window: '1m', countWhen: { status: ['2xx'] } }] }));
    expect((await get('/graphql?cost=30&status=500')).status).toBe(500);
    // The 500 gave its reservation back and was charged nothing: only this request's advance is counted.
    expect((await get('/graphql')).headers.get('RateLimit')).toBe('"points/minute";r=99;t=60');
    expect((await get('/graphql?cost=30')).status).toBe(200);
    // 100 - 1 - 30 - 1.
    expect((await get('/graphql')).headers.get('RateLimit')).toBe('"points/minute";r=68;t=60');
  });

  it('with countResponses, charges each counted response its reported cost, or its advance when it reports none', async () => {
    const get = client(policyOf({ countResponses: { status: [200] } }));
    await get('/graphql?cost=7');
    await get('/graphql?cost=7&status=404');
    await get('/graphql?cost=x');
    expect((await quota(get))[0]).toMatchObject({ used: 8, countsResponses: [200], costFromResponse: true });
  });

  it('charges shadow rules too, so what they report is what enforcement would count', async () => {
    const log = vi.spyOn(console, 'log');
    const get = client(policyOf({ shadow: true, limits: [{ name: 'minute', limit: 10, window: '1m' }] }));
    expect((await get('/graphql?cost=10')).status).toBe(200);
    const next = await get('/graphql');
    expect(next.status).toBe(200);
    const events = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'shadow_refused')).toMatchObject([{ rule: 'points', limit: 10 }]);
  });

  it("with a lease, sends the charge straight to the key's object: the isolate gets no new units past it", async () => {
    const counting = countingNamespace(env.RATE_LIMITER);
    const get = client(policyOf({ lease: { size: 10, ttl: '1s' }, limits: [{ name: 'minute', limit: 50, window: '1m' }] }), {
      ...env,
      RATE_LIMITER: counting.namespace,
    });
    expect((await get('/graphql?cost=45')).status).toBe(200);
    expect(counting.calls.charge).toBe(1);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await get('/graphql')).status);
    // 50 - 45: five more, then refusals.
    expect(statuses).toEqual([...Array(5).fill(200), ...Array(15).fill(429)]);
  });

  it('with a lease, gives nothing back for a cost below the advance: units spent from a lease stay spent', async () => {
    const counting = countingNamespace(env.RATE_LIMITER);
    const get = client(policyOf({ cost: 4, lease: { size: 10, ttl: '1s' } }), { ...env, RATE_LIMITER: counting.namespace });
    expect((await get('/graphql?cost=0')).status).toBe(200);
    expect(counting.calls.release).toBe(0);
    expect(counting.calls.charge ?? 0).toBe(0);
  });
});
