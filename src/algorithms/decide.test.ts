import { describe, expect, it } from 'vitest';
import { type BanState, decideKey, type KeyRequest, type LimitRequest } from './decide';
import type { LimitState } from './types';

const minute = (id: string, limit: number, extra: Partial<LimitRequest> = {}): LimitRequest => ({
  id,
  config: { algorithm: 'fixed-window', limit, windowMs: 60_000 },
  cost: 1,
  countRefused: false,
  shadow: false,
  ...extra,
});

/** Runs requests through decideKey against an in-memory store, as the Durable Object does. */
function store() {
  const limits = new Map<string, LimitState>();
  const bans = new Map<string, BanState>();
  return {
    limits,
    bans,
    decide(request: KeyRequest) {
      const t = decideKey(
        (id) => limits.get(id),
        (rule) => bans.get(rule),
        request,
      );
      for (const [id, s] of t.limitWrites) limits.set(id, s);
      for (const [rule, s] of t.banWrites) bans.set(rule, s);
      return t.decision;
    },
  };
}

describe('decideKey', () => {
  it('only checks a check-only limit: it refuses once its count is reached, but never counts a request', () => {
    const s = store();
    const limits = [minute('per-ip/1m', 5), minute('auth-failures/1m', 2, { checkOnly: true })];
    const admitted = s.decide({ now: 1, limits });
    expect(admitted.allowed).toBe(true);
    expect(admitted.outcomes.map((o) => o.counted)).toEqual([true, false]);
    expect(admitted.outcomes[1]!.decision).toMatchObject({ allowed: true, used: 0, remaining: 2 });
    expect(s.limits.has('auth-failures/1m')).toBe(false);
    // Two responses counted after the fact (as the object's charge does) reach the limit.
    s.limits.set('auth-failures/1m', { windowStart: 0, current: 2, previous: 0, tat: 0 });
    const refused = s.decide({ now: 2, limits });
    expect(refused.allowed).toBe(false);
    expect(refused.outcomes[1]!.decision).toMatchObject({ allowed: false, used: 2, remaining: 0, retryAfterMs: 59_998 });
    // The refused request spent nothing of the other limit, and the check-only count is unchanged.
    expect(s.limits.get('per-ip/1m')!.current).toBe(1);
    expect(s.limits.get('auth-failures/1m')!.current).toBe(2);
  });

  it('admits only when every limit admits, and then counts all of them', () => {
    const s = store();
    const limits = [minute('global/1m', 5), minute('shares/1m', 2)];
    const d = [1, 2, 3].map((i) => s.decide({ now: i, limits }));
    expect(d.map((x) => x.allowed)).toEqual([true, true, false]);
    // The third request was refused by shares; it did not spend the global budget.
    expect(s.limits.get('global/1m')!.current).toBe(2);
    expect(s.limits.get('shares/1m')!.current).toBe(2);
    expect(d[2]!.outcomes.map((o) => o.decision.allowed)).toEqual([true, false]);
    expect(d[2]!.outcomes[0]!.decision.remaining).toBe(3);
  });

  it('counts refused requests in limits that ask for it', () => {
    const s = store();
    const limits = [minute('a/30s', 1, { countRefused: true }), minute('b/5m', 10, { countRefused: true })];
    s.decide({ now: 0, limits });
    const refused = s.decide({ now: 1, limits });
    expect(refused.allowed).toBe(false);
    expect(s.limits.get('a/30s')!.current).toBe(2);
    expect(s.limits.get('b/5m')!.current).toBe(2);
    expect(refused.outcomes.every((o) => o.counted)).toBe(true);
  });

  it('never refuses for a shadow limit, but reports and counts as if enforced', () => {
    const s = store();
    const limits = [minute('real/1m', 10), minute('trial/1m', 1, { shadow: true })];
    const d = [0, 1, 2].map((now) => s.decide({ now, limits }));
    expect(d.map((x) => x.allowed)).toEqual([true, true, true]);
    expect(d[1]!.outcomes[1]).toMatchObject({ shadow: true, counted: false, decision: { allowed: false } });
    expect(s.limits.get('real/1m')!.current).toBe(3);
    expect(s.limits.get('trial/1m')!.current).toBe(1);
  });

  it('bans a key after repeated refusals and refuses it without counting until the ban ends', () => {
    const s = store();
    const limits = [minute('login/1m', 1)];
    const bans = [{ rule: 'login', after: 3, withinMs: 60_000, durationMs: 600_000 }];
    s.decide({ now: 0, limits, bans });
    const refusals = [1, 2, 3].map((now) => s.decide({ now, limits, bans }));
    // The refusal that reaches the threshold places the ban; later ones meet it.
    expect(refusals.map((r) => r.banned)).toEqual([undefined, undefined, { until: 600_003, rule: 'login', placed: true }]);
    // A minute later the limit would admit again, but the ban holds.
    const later = s.decide({ now: 120_000, limits, bans });
    expect(later).toMatchObject({ allowed: false, banned: { until: 600_003, rule: 'login' } });
    expect(later.banned!.placed).toBeUndefined();
    expect(s.limits.get('login/1m')!.current).toBe(1);
    expect(s.decide({ now: 600_003, limits, bans }).allowed).toBe(true);
  });

  it('marks counted outcomes so reservations can be released', () => {
    const s = store();
    const d = s.decide({ now: 0, limits: [minute('push/1h', 3)] });
    expect(d.outcomes[0]!.counted).toBe(true);
  });
});

/** 10 a second (one every 100 ms), at most 2 at once, waits of up to 500 ms allowed. */
const paced = (id: string, extra: Partial<LimitRequest> = {}): LimitRequest => ({
  id,
  config: { algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 2 },
  cost: 1,
  countRefused: false,
  shadow: false,
  maxWaitMs: 500,
  ...extra,
});

describe('decideKey with smoothing', () => {
  it('admits a burst beyond the allowance one interval apart, up to the longest wait, then refuses', () => {
    const s = store();
    const decisions = Array.from({ length: 9 }, () => s.decide({ now: 1000, limits: [paced('api/1s')] }));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, true, true, false, false]);
    expect(decisions.map((d) => d.delayMs)).toEqual([undefined, undefined, 100, 200, 300, 400, 500, undefined, undefined]);
    // The refusal says when the budget could next take a request: the end of the queue.
    expect(decisions[7]!.outcomes[0]!.decision.retryAfterMs).toBe(600);
    // The queue is reserved: the bucket is full until 1,500 plus two intervals.
    expect(s.limits.get('api/1s')!.tat).toBe(1700);
  });

  it('refuses as before when the request may not wait', () => {
    const s = store();
    const statuses = Array.from({ length: 4 }, () => s.decide({ now: 0, limits: [paced('api/1s', { maxWaitMs: undefined })] }));
    expect(statuses.map((d) => [d.allowed, d.delayMs])).toEqual([
      [true, undefined],
      [true, undefined],
      [false, undefined],
      [false, undefined],
    ]);
  });

  it('waits for the slower of two paced limits, and counts both as arriving then', () => {
    const s = store();
    const slow = paced('api/slow', { config: { algorithm: 'gcra', limit: 4, windowMs: 1000, burst: 1 } });
    const limits = [paced('api/1s'), slow];
    const first = s.decide({ now: 0, limits });
    const second = s.decide({ now: 0, limits });
    expect([first.delayMs, second.delayMs]).toEqual([undefined, 250]);
    // Counted at 250: the fast limit's bucket holds two requests' debt from then, not from 0.
    expect(s.limits.get('api/slow')!.tat).toBe(500);
    expect(s.limits.get('api/1s')!.tat).toBe(350);
  });

  it('never waits on a window limit: it refuses, and nothing is counted', () => {
    const s = store();
    const limits = [paced('api/1s'), minute('api/1m', 2)];
    const d = [0, 0, 0].map((now) => s.decide({ now, limits }));
    expect(d.map((x) => x.allowed)).toEqual([true, true, false]);
    expect(s.limits.get('api/1m')!.current).toBe(2);
    expect(s.limits.get('api/1s')!.tat).toBe(200);
    // A paced limit refusing beside a window limit that admits still smooths.
    const t = store();
    const wide = [paced('api/1s'), minute('api/1m', 100)];
    expect([0, 0, 0].map((now) => t.decide({ now, limits: wide }).delayMs)).toEqual([undefined, undefined, 100]);
    expect(t.limits.get('api/1m')!.current).toBe(3);
  });

  it('refuses a request whose wait is longer than the bound, or that costs more than a burst', () => {
    const s = store();
    s.limits.set('api/1s', { windowStart: 0, current: 0, previous: 0, tat: 800 });
    expect(s.decide({ now: 0, limits: [paced('api/1s')] }).allowed).toBe(false);
    const t = store();
    expect(t.decide({ now: 0, limits: [paced('api/1s', { cost: 3 })] }).allowed).toBe(false);
  });

  it('never smooths a shadow limit: it reports the refusal and admits at once', () => {
    const s = store();
    const limits = [paced('api/1s', { shadow: true })];
    const d = [0, 0, 0].map((now) => s.decide({ now, limits }));
    expect(d.map((x) => [x.allowed, x.delayMs, x.outcomes[0]!.decision.allowed])).toEqual([
      [true, undefined, true],
      [true, undefined, true],
      [true, undefined, false],
    ]);
  });
});

describe('decideKey with a concurrency limit', () => {
  const slots = (limit: number, extra: Partial<LimitRequest> = {}): LimitRequest => ({
    id: 'r/concurrent',
    config: { algorithm: 'concurrency', limit, windowMs: 60_000 },
    cost: 1,
    countRefused: false,
    shadow: false,
    ...extra,
  });
  const T0 = 1_800_000_000_000;

  it('takes no slot for a request a window refuses', () => {
    const s = store();
    s.decide({ now: T0, limits: [minute('r/1m', 1)] });
    const d = s.decide({ now: T0 + 1, limits: [minute('r/1m', 1), slots(2)] });
    expect(d.allowed).toBe(false);
    expect(d.outcomes[1]).toMatchObject({ counted: false, decision: { allowed: true, used: 0 } });
    expect(s.limits.get('r/concurrent')).toBeUndefined();
  });

  it('spends no window budget on a request refused for want of a slot', () => {
    const s = store();
    s.decide({ now: T0, limits: [minute('r/1m', 10), slots(1)] });
    const d = s.decide({ now: T0 + 1, limits: [minute('r/1m', 10), slots(1)] });
    expect(d.allowed).toBe(false);
    expect(d.outcomes.map((o) => o.counted)).toEqual([false, false]);
    expect(s.limits.get('r/1m')!.current).toBe(1);
  });

  it('takes no slot for a refused request whose rule counts refusals, while its window counts it', () => {
    const s = store();
    s.decide({ now: T0, limits: [minute('r/1m', 10, { countRefused: true }), slots(1, { countRefused: true })] });
    const d = s.decide({ now: T0 + 1, limits: [minute('r/1m', 10, { countRefused: true }), slots(1, { countRefused: true })] });
    expect(d.allowed).toBe(false);
    expect(d.outcomes.map((o) => o.counted)).toEqual([true, false]);
    expect(s.limits.get('r/concurrent')!.slots).toHaveLength(1);
    expect(s.limits.get('r/1m')!.current).toBe(2);
  });

  it('lets a shadow concurrency limit take its slot on its own, refusing nothing', () => {
    const s = store();
    s.decide({ now: T0, limits: [slots(1, { shadow: true })] });
    const d = s.decide({ now: T0 + 1, limits: [slots(1, { shadow: true })] });
    expect(d.allowed).toBe(true);
    expect(d.outcomes[0]).toMatchObject({ counted: false, shadow: true, decision: { allowed: false } });
  });
});
