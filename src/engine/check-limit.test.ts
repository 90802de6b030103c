import { env } from 'cloudflare:workers';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freshIp, limitedApp, send } from '../../test/support/app';
import { loggedLines } from '../../test/support/log-lines';
import { PolicyError } from '../policy/parse';
import { keyLimiterFrom } from '../protocol/stand-in';
import { type CheckLimitOptions, checkLimit } from './check-limit';

// Two days ahead of the real clock, so the objects' clean-up alarms cannot fire during a test.
const MINUTE = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 12 * 3_600_000;
const T0 = MINUTE + 15_000;
const WINDOW_END = MINUTE + 60_000;

let counter = 0;
/** A key no other test uses: Durable Object storage is shared within this file. */
const freshKey = () => `tenant-${++counter}`;

// The real objects get a generous timeout, so a loaded machine cannot turn a decision into a fail-open.
const generous = { mode: 'open' as const, timeoutMs: 10_000 };
const jobs = [{ name: 'jobs', onError: generous, limits: [{ limit: 3, window: '1m' }] }];

/** A namespace whose objects always throw, as an unreachable Durable Object would. */
const broken: CheckLimitOptions['namespace'] = {
  getByName: () => keyLimiterFrom({ check: () => Promise.reject(new Error('object unreachable')) }),
};

describe('checkLimit', () => {
  it('admits a key up to its limit with exact remaining and reset, then refuses with the wait', async () => {
    const key = freshKey();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key, now: T0 }));
    expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false]);
    expect(answers.map((a) => a.limits[0]!.remaining)).toEqual([2, 1, 0, 0]);
    expect(answers[0]).toMatchObject({
      kind: 'allow',
      retryAfterMs: 0,
      limits: [
        {
          rule: 'jobs',
          name: '1m',
          policy: 'jobs/1m',
          allowed: true,
          counted: true,
          shadow: false,
          limit: 3,
          used: 1,
          resetAt: WINDOW_END,
          retryAfterMs: 0,
        },
      ],
    });
    expect(answers[3]).toMatchObject({
      kind: 'limit',
      refusedBy: 'jobs',
      retryAfterMs: WINDOW_END - T0,
      limits: [{ allowed: false, used: 3, retryAfterMs: WINDOW_END - T0 }],
    });
  });

  it('names a refused key in its log line by the HMAC digest under keyDigestSecret', async () => {
    const key = freshKey();
    const secret = 'check-limit-test-secret-of-32-bytes-or-more';
    const lines = await loggedLines(async () => {
      for (let i = 0; i < 4; i++) await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key, now: T0, keyDigestSecret: secret });
    });
    const refusal = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'refused');
    expect(refusal?.key).toBe(createHmac('sha256', secret).update(`{"const":"check-limit"}=${key}`).digest('hex').slice(0, 16));
  });

  it('keeps keys apart', async () => {
    const [a, b] = [freshKey(), freshKey()];
    for (let i = 0; i < 3; i++) await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key: a, now: T0 });
    const other = await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key: b, now: T0 });
    expect(other.allowed).toBe(true);
    expect(other.limits[0]!.remaining).toBe(2);
  });

  it('spends the given cost, and refuses a cost over what is left without counting it', async () => {
    const key = freshKey();
    const first = await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key, cost: 2, now: T0 });
    expect(first.limits[0]).toMatchObject({ allowed: true, used: 2, remaining: 1 });
    const tooMuch = await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key, cost: 2, now: T0 });
    expect(tooMuch.allowed).toBe(false);
    const rest = await checkLimit({ namespace: env.RATE_LIMITER, rules: jobs, key, cost: 1, now: T0 });
    expect(rest.limits[0]).toMatchObject({ allowed: true, used: 3, remaining: 0 });
  });

  it('shares the budget of a rule with the middleware: a rule keyed by ip counts that address', async () => {
    const policy = {
      name: 'shared',
      onError: generous,
      rules: [{ name: 'per-ip', key: 'ip' as const, limits: [{ limit: 3, window: '1m' }] }],
    };
    const ip = freshIp();
    const { app } = limitedApp({ policy, now: () => T0, denyCache: false });
    expect((await send(app, '/a', ip)).status).toBe(200);
    const check = await checkLimit({ namespace: env.RATE_LIMITER, policy, key: ip, now: T0 });
    expect(check.limits[0]).toMatchObject({ used: 2, remaining: 1 });
    await checkLimit({ namespace: env.RATE_LIMITER, policy, key: ip, now: T0 });
    expect((await send(app, '/a', ip)).status).toBe(429);
  });

  it('applies only the named rules of a policy, each under its own key object', async () => {
    const policy = {
      name: 'two',
      rules: [
        { name: 'per-tenant', key: { header: 'X-Tenant' }, onError: generous, limits: [{ limit: 1, window: '1m' }] },
        { name: 'per-region', key: { cf: 'region' as const }, onError: generous, limits: [{ limit: 5, window: '1m' }] },
      ],
    };
    const key = freshKey();
    const both = await checkLimit({ namespace: env.RATE_LIMITER, policy, key, now: T0 });
    expect(both.limits.map((l) => [l.rule, l.remaining])).toEqual([
      ['per-tenant', 0],
      ['per-region', 4],
    ]);
    const regionOnly = await checkLimit({ namespace: env.RATE_LIMITER, policy, only: ['per-region'], key, now: T0 });
    expect(regionOnly.allowed).toBe(true);
    expect(regionOnly.limits.map((l) => [l.rule, l.remaining])).toEqual([['per-region', 3]]);
    const tenantAgain = await checkLimit({ namespace: env.RATE_LIMITER, policy, only: ['per-tenant'], key, now: T0 });
    expect(tenantAgain).toMatchObject({ allowed: false, refusedBy: 'per-tenant' });
  });

  it('checks every limit of a rule together: a refusal by one counts in none', async () => {
    const key = freshKey();
    const rules = [
      {
        name: 'paired',
        onError: generous,
        limits: [
          { limit: 5, window: '1m' },
          { limit: 2, window: '1h' },
        ],
      },
    ];
    for (let i = 0; i < 3; i++) await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    const check = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(check.allowed).toBe(false);
    expect(check.limits.map((l) => [l.name, l.used, l.allowed])).toEqual([
      ['1m', 2, true],
      ['1h', 2, false],
    ]);
  });

  it('gives back an outcome-counted reservation when settled with a status that does not count', async () => {
    const key = freshKey();
    const rules = [{ name: 'pushes', onError: generous, limits: [{ limit: 2, window: '1m', countWhen: { status: ['2xx'] } }] }];
    const failed = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(failed.limits[0]!.used).toBe(1);
    await failed.settle(500);
    const kept = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(kept.limits[0]!.used).toBe(1);
    await kept.settle(200);
    const after = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(after.limits[0]!.used).toBe(2);
  });

  it('settles the cost a response reports for responseCost rules: the difference is charged, or given back', async () => {
    const key = freshKey();
    const rules = [
      {
        name: 'tokens',
        onError: generous,
        cost: 4,
        responseCost: { header: 'X-Tokens', max: 100 },
        limits: [{ limit: 100, window: '1m' }],
      },
    ];
    const first = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(first.limits[0]!.used).toBe(4);
    await first.settle(200, new Response(null, { headers: { 'X-Tokens': '30' } }));
    const second = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(second.limits[0]!.used).toBe(34);
    await second.settle(200, { headers: new Headers({ 'X-Tokens': '1' }) });
    // Without a response, the advance stands.
    const third = await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 });
    expect(third.limits[0]!.used).toBe(35);
    await third.settle(200);
    expect((await checkLimit({ namespace: env.RATE_LIMITER, rules, key, now: T0 })).limits[0]!.used).toBe(39);
  });

  it("follows the rule's onError when the key's object fails: open admits without it, closed is unavailable", async () => {
    const open = await checkLimit({ namespace: broken, rules: jobs, key: 'k', now: T0 });
    expect(open).toMatchObject({ allowed: true, kind: 'allow', limits: [] });
    const closedRules = [{ ...jobs[0]!, onError: { mode: 'closed' as const } }];
    const closed = await checkLimit({ namespace: broken, rules: closedRules, key: 'k', now: T0 });
    expect(closed).toMatchObject({ allowed: false, kind: 'unavailable', refusedBy: 'jobs', retryAfterMs: 1000 });
  });

  it('refuses bad input with a clear error', async () => {
    const ns = env.RATE_LIMITER;
    await expect(checkLimit({ namespace: ns, key: 'k' })).rejects.toThrow('checkLimit: give exactly one of "policy" and "rules"');
    await expect(checkLimit({ namespace: ns, rules: jobs, policy: { name: 'p', rules: [] }, key: 'k' })).rejects.toThrow(
      'give exactly one of',
    );
    await expect(checkLimit({ namespace: ns, rules: jobs, key: '' })).rejects.toThrow('checkLimit: "key" must be a non-empty string');
    await expect(checkLimit({ namespace: ns, rules: jobs, key: 'k', cost: -1 })).rejects.toThrow(
      'checkLimit: "cost" must be a whole number of at least 0, not -1',
    );
    await expect(checkLimit({ namespace: ns, rules: jobs, key: 'k', cost: 1.5 })).rejects.toThrow('not 1.5');
    await expect(checkLimit({ namespace: ns, rules: jobs, key: 'k', now: Number.NaN })).rejects.toThrow(
      'checkLimit: "now" must be epoch milliseconds, not NaN',
    );
    await expect(checkLimit({ namespace: {} as typeof ns, rules: jobs, key: 'k' })).rejects.toThrow(
      'checkLimit: "namespace" must be the Durable Object binding of RateLimiter',
    );
    await expect(
      checkLimit({ namespace: ns, policy: { name: 'p', rules: [{ name: 'r', key: 'ip', limits: [] }] }, only: ['nope'], key: 'k' }),
    ).rejects.toThrow('a rule needs at least one limit');
    const policy = { name: 'p', rules: [{ name: 'r', key: 'ip' as const, limits: [{ limit: 1, window: '1m' }] }] };
    await expect(checkLimit({ namespace: ns, policy, only: ['nope'], key: 'k' })).rejects.toThrow(
      'checkLimit: no rule named "nope" in policy "p"',
    );
  });

  it('names the field of an invalid rule', async () => {
    const error = await checkLimit({
      namespace: env.RATE_LIMITER,
      rules: [{ name: 'jobs', limits: [{ limit: 3, window: '5 minutes' }] }],
      key: 'k',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).issues).toEqual([
      'rules[0] "jobs".limits[0].window: invalid duration "5 minutes": use a number of milliseconds or text such as "30s", "5m", "25h"',
    ]);
  });
});
