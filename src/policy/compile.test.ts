import { describe, expect, it } from 'vitest';
import { backoffLimits, compilePolicy, statusMatcher } from './compile';
import { parsePolicy } from './parse';

const facts = { method: 'GET', host: 'api.example.com', path: '/v1/items', tier: 'anonymous' };

describe('compilePolicy', () => {
  const compiled = compilePolicy(
    parsePolicy({
      name: 'c',
      identity: { credential: 'bearer' },
      rules: [
        { name: 'reads', match: { methods: ['get'], paths: ['/v1/*'] }, key: 'ip', limits: [{ limit: 1, window: '1s' }] },
        { name: 'host', match: { hosts: ['*.example.com'] }, key: 'ip', limits: [{ limit: 1, window: '1s' }] },
        { name: 'pro', match: { tiers: ['pro'] }, key: 'bearer', limits: [{ limit: 1, window: '1s', name: 'burst' }] },
        { name: 'most', match: { paths: ['*'], exceptPaths: ['/v1/index/*', '/names'] }, key: 'ip', limits: [{ limit: 1, window: '1s' }] },
        { name: 'api', match: { exceptHosts: ['dl.example.com', '*.cdn.example.com'] }, key: 'ip', limits: [{ limit: 1, window: '1s' }] },
      ],
    }),
  );
  const [reads, host, pro, most, api] = compiled.rules;

  it('matches methods case-insensitively, and HEAD wherever GET matches', () => {
    expect(reads!.matches(facts)).toBe(true);
    expect(reads!.matches({ ...facts, method: 'HEAD' })).toBe(true);
    expect(reads!.matches({ ...facts, method: 'POST' })).toBe(false);
  });

  it('matches hosts, paths and tiers', () => {
    expect(host!.matches(facts)).toBe(true);
    expect(host!.matches({ ...facts, host: 'example.org' })).toBe(false);
    expect(reads!.matches({ ...facts, path: '/v2/items' })).toBe(false);
    expect(pro!.matches(facts)).toBe(false);
    expect(pro!.matches({ ...facts, tier: 'pro' })).toBe(true);
  });

  it('leaves out excepted paths, including everything below a `/*` pattern', () => {
    expect(most!.matches(facts)).toBe(true);
    expect(most!.matches({ ...facts, path: '/v1/index/gems' })).toBe(false);
    expect(most!.matches({ ...facts, path: '/v1/index' })).toBe(false);
    expect(most!.matches({ ...facts, path: '/names' })).toBe(false);
    expect(most!.matches({ ...facts, path: '/names/x' })).toBe(true);
  });

  it('leaves out excepted hosts', () => {
    expect(api!.matches(facts)).toBe(true);
    expect(api!.matches({ ...facts, host: 'dl.example.com' })).toBe(false);
    expect(api!.matches({ ...facts, host: 'eu.cdn.example.com' })).toBe(false);
  });

  it('names limits by window unless named, and ids them by rule', () => {
    expect(reads!.limits.map((l) => [l.id, l.name])).toEqual([['reads/1s', '1s']]);
    expect(pro!.limits.map((l) => l.id)).toEqual(['pro/burst']);
  });
});

describe('backoff', () => {
  it("expands rack-attack's levels: limit × n per period^n seconds", () => {
    const [rule] = parsePolicy({
      name: 'b',
      rules: [{ name: 'sensitive', key: 'ip', backoff: { limit: 300, period: '5m', levels: 2 } }],
    }).rules;
    expect(backoffLimits(rule!)).toEqual([
      { name: 'backoff-1', algorithm: 'fixed-window', limit: 300, window: 300_000 },
      { name: 'backoff-2', algorithm: 'fixed-window', limit: 600, window: 90_000_000 },
    ]);
  });
});

describe('statusMatcher', () => {
  it('matches exact codes and classes', () => {
    const m = statusMatcher({ status: ['2xx', 304] });
    expect([200, 201, 299, 304, 302, 400, 500].map(m)).toEqual([true, true, true, true, false, false, false]);
  });
});

describe('hiddenResponseHeaders', () => {
  const withCosts = (...costs: Array<{ header: string; max: number; keep?: boolean } | undefined>) =>
    compilePolicy(
      parsePolicy({
        name: 'costs',
        rules: costs.map((responseCost, i) => ({
          name: `r${i}`,
          key: 'ip',
          limits: [{ limit: 10, window: '1m' }],
          ...(responseCost ? { responseCost } : {}),
        })),
      }),
    ).hiddenResponseHeaders;

  it('lists each cost header a rule does not keep once, in lower case', () => {
    expect(withCosts({ header: 'X-Cost', max: 10 }, { header: 'x-cost', max: 20 }, { header: 'X-Rows', max: 5 }, undefined)).toEqual([
      'x-cost',
      'x-rows',
    ]);
  });

  it('leaves out headers rules keep, and is empty without cost headers', () => {
    expect(withCosts({ header: 'X-Cost', max: 10, keep: true }, { header: 'X-Rows', max: 5 })).toEqual(['x-rows']);
    expect(withCosts(undefined)).toEqual([]);
  });
});
