import { describe, expect, it } from 'vitest';
import type { LimitDecision } from '../algorithms/types';
import type { LimitResult } from '../engine/verdict';
import type { CompiledRule } from '../policy/compile';
import { headlineResult, mergeRateLimitHeaders, rateLimitHeaders } from './headers';

const NOW = 1_000_000_000;

function result(id: string, windowMs: number, decision: Partial<LimitDecision>, shadow = false): LimitResult {
  const [rule, name] = id.split('/') as [string, string];
  return {
    rule: { name: rule } as CompiledRule,
    limit: { id, name, rule, config: { algorithm: 'fixed-window', limit: decision.limit ?? 10, windowMs } },
    decision: { allowed: true, limit: 10, used: 0, remaining: 10, resetAt: NOW + windowMs, retryAfterMs: 0, ...decision },
    shadow,
    counted: true,
  };
}

describe('headlineResult', () => {
  it('picks the limit closest to being reached, percentage-wise', () => {
    const burst = result('k/30s', 30_000, { limit: 60, used: 30, remaining: 30 });
    const long = result('k/5m', 300_000, { limit: 500, used: 400, remaining: 100 });
    expect(headlineResult([burst, long], false)).toBe(long);
  });

  it('on a refusal picks the refusing limit with the longest wait', () => {
    const a = result('k/30s', 30_000, { allowed: false, remaining: 0, retryAfterMs: 5000 });
    const b = result('k/5m', 300_000, { allowed: false, remaining: 0, retryAfterMs: 59_000 });
    const c = result('k/1h', 3_600_000, { remaining: 0 });
    expect(headlineResult([a, b, c], true)).toBe(b);
  });

  it('never shows a shadow limit', () => {
    expect(headlineResult([result('s/1m', 60_000, { remaining: 0, used: 10 }, true)], false)).toBeUndefined();
  });
});

describe('floors in the headers', () => {
  const floor = (
    id: string,
    decision: Partial<LimitDecision>,
    extra: { quiet?: true; countResponses?: (status: number) => boolean },
  ): LimitResult => {
    const r = result(id, 600_000, decision);
    return { ...r, limit: { ...r.limit, ...extra } };
  };
  const perToken = result('per-token/1m', 60_000, { limit: 100, used: 1, remaining: 99 });

  it('leave quiet and response-counting limits out while they admit, even when closer to their limit', () => {
    const failures = floor('auth-failures/10m', { limit: 20, used: 19, remaining: 1 }, { countResponses: () => true });
    const ceiling = floor('per-address/1m', { limit: 600, used: 590, remaining: 10 }, { quiet: true });
    expect(headlineResult([perToken, failures, ceiling], false)).toBe(perToken);
    expect(rateLimitHeaders([perToken, failures, ceiling], { headers: ['ietf'] }, NOW, false)).toEqual([
      ['RateLimit-Policy', '"per-token/1m";q=100;w=60'],
      ['RateLimit', '"per-token/1m";r=99;t=60'],
    ]);
  });

  it('report the floor that refuses', () => {
    const failures = floor(
      'auth-failures/10m',
      { allowed: false, limit: 20, used: 20, remaining: 0, retryAfterMs: 300_000 },
      { countResponses: () => true },
    );
    expect(headlineResult([perToken, failures], true)).toBe(failures);
    expect(rateLimitHeaders([perToken, failures], { headers: ['ratelimit'] }, NOW, true)).toEqual([
      ['RateLimit', '"per-token/1m";r=99;t=60, "auth-failures/10m";r=0;t=300'],
    ]);
  });
});

describe('rateLimitHeaders', () => {
  const results = [result('api/1m', 60_000, { limit: 100, used: 1, remaining: 99, resetAt: NOW + 30_500 })];

  it('writes the IETF named items', () => {
    expect(rateLimitHeaders(results, { headers: ['ietf'] }, NOW, false)).toEqual([
      ['RateLimit-Policy', '"api/1m";q=100;w=60'],
      ['RateLimit', '"api/1m";r=99;t=31'],
    ]);
  });

  it('writes the X-RateLimit family with the reset in epoch seconds and the interval as a decimal', () => {
    expect(
      rateLimitHeaders(
        results,
        { headers: ['x-ratelimit', 'x-ratelimit-interval', 'x-ratelimit-count', 'x-ratelimit-window'] },
        NOW,
        false,
      ),
    ).toEqual([
      ['X-RateLimit-Window', '1m'],
      ['X-RateLimit-Count', '1'],
      ['X-RateLimit-Limit', '100'],
      ['X-RateLimit-Remaining', '99'],
      ['X-RateLimit-Reset', String(Math.ceil((NOW + 30_500) / 1000))],
      ['X-RateLimit-Interval', String(30.5 / 99).slice(0, 13)],
    ]);
  });

  it('gives the wait as the interval of a refusal', () => {
    const refused = [result('api/1h', 3_600_000, { allowed: false, remaining: 0, retryAfterMs: 3_303_557.626 })];
    expect(rateLimitHeaders(refused, { headers: ['x-ratelimit-interval'] }, NOW, true)).toEqual([['X-RateLimit-Interval', '3303.557626']]);
  });
});

/** A Structured Fields list of items as RateLimit fields use them: string names with integer, string or byte-sequence parameters. */
function sfItems(field: string): Array<{ name: string; params: Record<string, string | number> }> {
  const item = /^"((?:[^"\\]|\\["\\])*)"((?:;[a-z*][a-z0-9_.*-]*(?:=(?:-?\d{1,15}|"(?:[^"\\]|\\["\\])*"|:[A-Za-z0-9+/=]*:))?)*)$/;
  return field.split(/,[ \t]*/).map((member) => {
    const m = item.exec(member);
    if (!m) throw new Error(`not a Structured Fields string item: ${member}`);
    const params: Record<string, string | number> = {};
    for (const p of m[2]!.split(';').slice(1)) {
      const [key, value = '?1'] = p.split('=') as [string, string?];
      params[key] = /^-?\d+$/.test(value) ? Number(value) : value;
    }
    return { name: m[1]!, params };
  });
}

describe('the IETF fields follow draft-ietf-httpapi-ratelimit-headers-11', () => {
  const gcra = (decision: Partial<LimitDecision>): LimitResult => {
    const r = result('token/1s', 1000, { limit: 10, ...decision });
    return { ...r, limit: { ...r.limit, config: { algorithm: 'gcra', limit: 5, windowMs: 1000, burst: 10 } } };
  };
  const cases: Array<[string, LimitResult[], boolean]> = [
    ['one admitting limit', [result('api/1m', 60_000, { limit: 100, used: 1, remaining: 99, resetAt: NOW + 30_500 })], false],
    [
      'several limits, one refusing',
      [
        result('api/1m', 60_000, { limit: 3, remaining: 0, allowed: false, retryAfterMs: 1500 }),
        result('api/1d', 86_400_000, { limit: 1000, remaining: 900, resetAt: NOW + 86_000_000 }),
      ],
      true,
    ],
    ['a sub-second window', [result('api/500ms', 500, { limit: 2, remaining: 1, resetAt: NOW + 200 })], false],
    ['a GCRA limit with a burst', [gcra({ used: 3, remaining: 7, resetAt: NOW + 600 })], false],
  ];
  it.each(cases)('%s: RateLimit-Policy items carry q and w, RateLimit items r and t, under the same names', (_, results, refused) => {
    const fields = Object.fromEntries(rateLimitHeaders(results, { headers: ['ietf'] }, NOW, refused));
    const policies = sfItems(fields['RateLimit-Policy']!);
    const limits = sfItems(fields.RateLimit!);
    expect(limits.map((i) => i.name)).toEqual(policies.map((i) => i.name));
    for (const { params } of policies) {
      expect(Object.keys(params).every((k) => ['q', 'w', 'qu', 'pk'].includes(k))).toBe(true);
      expect(Number.isInteger(params.q) && (params.q as number) >= 0).toBe(true);
      expect(Number.isInteger(params.w) && (params.w as number) > 0).toBe(true);
    }
    for (const { params } of limits) {
      expect(Object.keys(params).every((k) => ['r', 't', 'pk'].includes(k))).toBe(true);
      expect(Number.isInteger(params.r) && (params.r as number) >= 0).toBe(true);
      expect(Number.isInteger(params.t) && (params.t as number) >= 0).toBe(true);
    }
  });

  it('states a GCRA burst as a quota over the time it takes to refill, so the rate a client plans with is the enforced one', () => {
    const [[, policy]] = rateLimitHeaders([gcra({ remaining: 10 })], { headers: ['ratelimit-policy'] }, NOW, false) as [[string, string]];
    // 10 at once, refilling at 5 a second: 10 per 2 s, not 10 per second.
    expect(policy).toBe('"token/1s";q=10;w=2');
  });
});

describe('mergeRateLimitHeaders', () => {
  it('joins IETF lists with the origin’s', () => {
    const h = new Headers({ RateLimit: '"origin";r=5;t=10' });
    mergeRateLimitHeaders(h, [['RateLimit', '"edge";r=50;t=30']]);
    expect(h.get('RateLimit')).toBe('"origin";r=5;t=10, "edge";r=50;t=30');
  });

  it('keeps a tighter origin X-RateLimit family and replaces a looser one', () => {
    const tighter = new Headers({ 'X-RateLimit-Limit': '10', 'X-RateLimit-Remaining': '2' });
    mergeRateLimitHeaders(tighter, [
      ['X-RateLimit-Limit', '100'],
      ['X-RateLimit-Remaining', '50'],
    ]);
    expect([tighter.get('X-RateLimit-Limit'), tighter.get('X-RateLimit-Remaining')]).toEqual(['10', '2']);
    const looser = new Headers({ 'X-RateLimit-Limit': '1000', 'X-RateLimit-Remaining': '900' });
    mergeRateLimitHeaders(looser, [
      ['X-RateLimit-Limit', '100'],
      ['X-RateLimit-Remaining', '50'],
    ]);
    expect([looser.get('X-RateLimit-Limit'), looser.get('X-RateLimit-Remaining')]).toEqual(['100', '50']);
  });
});

describe('concurrency limits in the headers', () => {
  const slots = (decision: Partial<LimitDecision>): LimitResult => {
    const base = result('reports/concurrent', 60_000, { limit: 2, ...decision });
    return { ...base, limit: { ...base.limit, config: { algorithm: 'concurrency', limit: 2, windowMs: 60_000 } } };
  };

  it('names the concurrent-requests quota unit, with no window', () => {
    const headers = new Map(rateLimitHeaders([slots({ used: 1, remaining: 1 })], { headers: ['ietf'] }, NOW, false));
    expect(headers.get('RateLimit-Policy')).toBe('"reports/concurrent";q=2;qu="concurrent-requests"');
    expect(headers.get('RateLimit')).toBe('"reports/concurrent";r=1');
  });

  it('tells a refusal when a slot is expected back', () => {
    const refused = slots({ allowed: false, used: 2, remaining: 0, retryAfterMs: 1500 });
    const headers = new Map(rateLimitHeaders([refused], { headers: ['ietf'] }, NOW, true));
    expect(headers.get('RateLimit')).toBe('"reports/concurrent";r=0;t=2');
  });
});
