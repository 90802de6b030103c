import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BanRequest, KeyDecision, LimitRequest } from '../algorithms/decide';
import { packDecision, packSpec, SpecCache, unpackDecision, unpackSpec } from './wire';

const limit = (id: string, overrides: Partial<LimitRequest> = {}): LimitRequest => ({
  id,
  config: { algorithm: 'fixed-window', limit: 100, windowMs: 60_000 },
  cost: 1,
  countRefused: false,
  shadow: false,
  ...overrides,
});

const limitRequest: fc.Arbitrary<LimitRequest> = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 20 }),
    config: fc.oneof(
      fc.record({
        algorithm: fc.constantFrom('fixed-window' as const, 'sliding-window' as const),
        limit: fc.integer({ min: 1, max: 1e9 }),
        windowMs: fc.integer({ min: 1, max: 86_400_000 }),
      }),
      fc.record({
        algorithm: fc.constant('gcra' as const),
        limit: fc.integer({ min: 1, max: 1e6 }),
        windowMs: fc.integer({ min: 1, max: 86_400_000 }),
        burst: fc.integer({ min: 1, max: 1e6 }),
      }),
    ),
    cost: fc.integer({ min: 0, max: 1000 }),
    countRefused: fc.boolean(),
    shadow: fc.boolean(),
    maxWaitMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
  })
  .map(({ maxWaitMs, ...l }) => (maxWaitMs === undefined ? l : { ...l, maxWaitMs }));
const banRequest: fc.Arbitrary<BanRequest> = fc.record({
  rule: fc.string({ minLength: 1, maxLength: 20 }),
  after: fc.integer({ min: 1, max: 100 }),
  withinMs: fc.integer({ min: 1, max: 86_400_000 }),
  durationMs: fc.integer({ min: 1, max: 86_400_000 }),
});

/** A decision for `limits`, as the object makes them: one outcome per limit, in order, with the limit's id and shadow flag. */
const decisionFor = (limits: readonly LimitRequest[]): fc.Arbitrary<KeyDecision> =>
  fc
    .record({
      allowed: fc.boolean(),
      outcomes: fc.tuple(
        ...limits.map((l) =>
          fc.record({
            counted: fc.boolean(),
            decision: fc.record({
              allowed: fc.boolean(),
              limit: fc.constant(l.config.limit),
              remaining: fc.integer({ min: 0, max: l.config.limit }),
              used: fc.integer({ min: 0, max: 2 * l.config.limit }),
              resetAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
              retryAfterMs: fc.integer({ min: 0, max: 86_400_000 }),
            }),
          }),
        ),
      ),
      banned: fc.option(
        fc.record({ until: fc.integer({ min: 0, max: 4_000_000_000_000 }), rule: fc.string({ maxLength: 20 }), placed: fc.boolean() }),
        { nil: undefined },
      ),
      delayMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
    })
    .map(({ allowed, outcomes, banned, delayMs }) => ({
      // The object sets a wait only on a request it admits and that no ban refuses.
      allowed: allowed || (delayMs !== undefined && !banned),
      ...(delayMs !== undefined && !banned ? { delayMs } : {}),
      outcomes: outcomes.map((o, j) => ({ id: limits[j]!.id, shadow: limits[j]!.shadow, ...o })),
      // The object writes `placed` only on the request that placed the ban.
      ...(banned ? { banned: { until: banned.until, rule: banned.rule, ...(banned.placed ? { placed: true } : {}) } } : {}),
    }));

describe('packed specs', () => {
  it('read back as the limits and bans written (property)', () => {
    fc.assert(
      fc.property(fc.array(limitRequest, { maxLength: 4 }), fc.array(banRequest, { maxLength: 2 }), (limits, bans) => {
        expect(unpackSpec(packSpec(limits, bans))).toEqual({ limits, bans });
      }),
    );
  });

  it('are refused, naming what is wrong, when they are not what this code writes', () => {
    const good = JSON.parse(packSpec([limit('r/1m')], [])) as unknown[];
    expect(() => unpackSpec('not json')).toThrow(/not JSON/);
    expect(() => unpackSpec(JSON.stringify({ limits: [] }))).toThrow(/expected \[version, limits, bans\]/);
    expect(() => unpackSpec(JSON.stringify([2, good[1], good[2]]))).toThrow(/version 2, this object reads version 1/);
    expect(() => unpackSpec(JSON.stringify([good[0], [{ id: 'r/1m', cost: 1 }], []]))).toThrow(/malformed limits/);
    expect(() => unpackSpec(JSON.stringify([good[0], good[1], [{ rule: 'r' }]]))).toThrow(/malformed bans/);
  });

  it('are parsed once per object and kept up to a bound, the oldest going first', () => {
    const cache = new SpecCache(2);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => packSpec([limit(`${id}/1m`)], []));
    const first = cache.read(a!);
    expect(cache.read(a!)).toBe(first);
    cache.read(b!);
    cache.read(c!);
    expect(cache.read(b!)).toBe(cache.read(b!));
    expect(cache.read(a!)).not.toBe(first);
    expect(cache.read(a!)).toEqual(first);
  });
});

describe('packed decisions', () => {
  it('read back as the decision written, for the limits asked (property)', () => {
    const limitsAndDecision = fc
      .array(limitRequest, { maxLength: 4 })
      .chain((limits) => decisionFor(limits).map((decision) => ({ limits, decision })));
    fc.assert(
      fc.property(limitsAndDecision, ({ limits, decision }) => {
        const packed = packDecision(decision);
        expect(packed.every((v) => typeof v === 'number' || typeof v === 'string')).toBe(true);
        expect(unpackDecision(packed, limits)).toEqual(decision);
      }),
    );
  });

  it('are one flat array: a flag, seven numbers per limit, and the ban when there is one', () => {
    const limits = [limit('r/1m'), limit('r/1h', { shadow: true })];
    const decision: KeyDecision = {
      allowed: false,
      outcomes: [
        {
          id: 'r/1m',
          shadow: false,
          counted: false,
          decision: { allowed: false, limit: 100, remaining: 0, used: 100, resetAt: 60_000, retryAfterMs: 1500 },
        },
        {
          id: 'r/1h',
          shadow: true,
          counted: true,
          decision: { allowed: true, limit: 100, remaining: 40, used: 60, resetAt: 3_600_000, retryAfterMs: 0 },
        },
      ],
      banned: { until: 90_000, rule: 'r', placed: true },
    };
    expect(packDecision(decision)).toEqual([0, 0, 100, 0, 100, 60_000, 1500, 0, 1, 100, 40, 60, 3_600_000, 0, 1, 90_000, 'r', 1]);
    expect(unpackDecision(packDecision(decision), limits)).toEqual(decision);
  });

  it('carry the wait of a request admitted after one as one more number', () => {
    const limits = [limit('r/1s')];
    const decision: KeyDecision = {
      allowed: true,
      delayMs: 300,
      outcomes: [
        {
          id: 'r/1s',
          shadow: false,
          counted: true,
          decision: { allowed: true, limit: 2, remaining: 0, used: 2, resetAt: 1_500, retryAfterMs: 0 },
        },
      ],
    };
    expect(packDecision(decision)).toEqual([1, 1, 2, 0, 2, 1_500, 0, 1, 300]);
    expect(unpackDecision(packDecision(decision), limits)).toEqual(decision);
    // A wait on a refusal, or one that is not a positive number, is not something this code writes.
    expect(unpackDecision([0, 1, 2, 0, 2, 1_500, 0, 1, 300], limits)).toBeUndefined();
    expect(unpackDecision([1, 1, 2, 0, 2, 1_500, 0, 1, 0], limits)).toBeUndefined();
    expect(unpackDecision([1, 1, 2, 0, 2, 1_500, 0, 1, 'x'], limits)).toBeUndefined();
  });

  it('are not read when they do not fit the limits asked', () => {
    const limits = [limit('r/1m')];
    const ok = packDecision({
      allowed: true,
      outcomes: [
        {
          id: 'r/1m',
          shadow: false,
          counted: true,
          decision: { allowed: true, limit: 100, remaining: 99, used: 1, resetAt: 60_000, retryAfterMs: 0 },
        },
      ],
    });
    expect(unpackDecision(ok, limits)).toBeDefined();
    for (const bad of [
      undefined,
      null,
      'x',
      {},
      [],
      [1],
      [...ok, 0],
      [...ok.slice(0, 3), 'x', ...ok.slice(4)],
      [...ok, 'later', 'r', 1],
      [...ok, 1, 2, 1],
      [...ok, 1, 'r', 2],
    ]) {
      expect(unpackDecision(bad, limits)).toBeUndefined();
    }
    expect(unpackDecision(ok, [...limits, limit('r/1h')])).toBeUndefined();
  });
});
