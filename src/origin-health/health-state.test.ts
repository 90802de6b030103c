import { describe, expect, it } from 'vitest';
import { capacityAt, HEALTHY, type HealthSettings, type HealthState, type OriginObservation, observeOrigin } from './health-state';

const settings: HealthSettings = {
  windowMs: 10_000,
  minRequests: 4,
  errorRate: 0.5,
  latency: { p: 0.9, aboveMs: 2_000 },
  retryAfter: true,
  maxHoldMs: 60_000,
  cut: 0.5,
  recoverBy: 0.1,
  everyMs: 5_000,
  floor: 0.1,
};

/** Feeds answers in order; each is sent `latency` ms before it arrives. */
function feed(state: HealthState, answers: Array<{ at: number; status?: number; latency?: number; retryAfterMs?: number }>, s = settings) {
  const cuts: string[] = [];
  for (const a of answers) {
    const observation: OriginObservation = {
      sentAt: a.at - (a.latency ?? 10),
      at: a.at,
      status: a.status ?? 200,
      retryAfterMs: a.retryAfterMs,
    };
    const step = observeOrigin(state, observation, s);
    state = step.state;
    if (step.cut) cuts.push(`${step.cut.trigger}@${a.at}->${step.cut.factor}`);
  }
  return { state, cuts };
}

const at = (times: number[], extra: { status?: number; latency?: number } = {}) => times.map((t) => ({ at: t, ...extra }));

describe('the origin health state', () => {
  it('stays at full capacity while answers are healthy', () => {
    const { state, cuts } = feed(HEALTHY, at([1000, 2000, 3000, 4000, 5000, 6000]));
    expect(cuts).toEqual([]);
    expect(capacityAt(state, 6000, settings)).toBe(1);
  });

  it('does not judge a window holding fewer than minRequests answers, however bad', () => {
    const { cuts } = feed(HEALTHY, at([1000, 2000, 3000], { status: 500 }));
    expect(cuts).toEqual([]);
  });

  it('cuts by `cut` once the 5xx share of a full enough window reaches errorRate', () => {
    const { cuts } = feed(HEALTHY, [...at([1000, 1100]), ...at([1200, 1300], { status: 502 })]);
    expect(cuts).toEqual(['errors@1300->0.5']);
  });

  it('cuts on latency once more than 1 − p of the window took longer than `above`', () => {
    // 10 answers, 1 slow: the p90 is not above 2 s; the second slow one makes it so.
    const healthy = at([10_100, 10_200, 10_300, 10_400, 10_500, 10_600, 10_700, 10_800, 10_900]);
    expect(feed(HEALTHY, [...healthy, { at: 11_000, latency: 2_500 }]).cuts).toEqual([]);
    expect(feed(HEALTHY, [...healthy, { at: 11_000, latency: 2_500 }, { at: 11_100, latency: 2_001 }]).cuts).toEqual([
      'latency@11100->0.5',
    ]);
  });

  it('does not count a latency of exactly `above` as slow', () => {
    expect(feed(HEALTHY, at([100, 200, 300, 400], { latency: 2_000 })).cuts).toEqual([]);
  });

  it('cuts at once on a 503 with Retry-After, and holds the cut until it has passed', () => {
    const { state, cuts } = feed(HEALTHY, [{ at: 1000, status: 503, retryAfterMs: 20_000 }]);
    expect(cuts).toEqual(['retry-after@1000->0.5']);
    expect(capacityAt(state, 20_999, settings)).toBe(0.5);
    expect(capacityAt(state, 21_000, settings)).toBe(0.5);
    expect(capacityAt(state, 26_000, settings)).toBe(0.6);
  });

  it('holds a Retry-After cut no longer than maxHold', () => {
    const { state } = feed(HEALTHY, [{ at: 1000, status: 503, retryAfterMs: 3_600_000 }]);
    expect(capacityAt(state, 61_000 + 4_999, settings)).toBe(0.5);
    expect(capacityAt(state, 61_000 + 5_000, settings)).toBe(0.6);
  });

  it('ignores Retry-After when the policy says so, counting the 503 as an error', () => {
    const s = { ...settings, retryAfter: false };
    expect(feed(HEALTHY, [{ at: 1000, status: 503, retryAfterMs: 20_000 }], s).cuts).toEqual([]);
  });

  it('takes a 503 without Retry-After as an error like any 5xx', () => {
    expect(feed(HEALTHY, [{ at: 1000, status: 503 }]).cuts).toEqual([]);
  });

  it('recovers by recoverBy for each whole `every` since the cut, up to 1', () => {
    const { state } = feed(HEALTHY, at([1000, 1100, 1200, 1300], { status: 500 }));
    expect([1300, 6299, 6300, 11_300, 26_300, 100_000].map((t) => capacityAt(state, t, settings))).toEqual([0.5, 0.5, 0.6, 0.7, 1, 1]);
  });

  it('multiplies the factor it has recovered to, never below the floor', () => {
    const bad = (t: number) => at([t, t + 1, t + 2, t + 3], { status: 500 });
    const { cuts } = feed(HEALTHY, [...bad(1000), ...bad(2000), ...bad(3000), ...bad(4000), ...bad(12_000)]);
    // 1 → 0.5 → 0.25 → 0.125 → 0.1 (floor); 8 s later one step of recovery (0.2), cut to 0.1 again.
    expect(cuts).toEqual(['errors@1003->0.5', 'errors@2003->0.25', 'errors@3003->0.125', 'errors@4003->0.1', 'errors@12003->0.1']);
  });

  it('starts the window afresh after a cut: the next cut needs minRequests new answers', () => {
    const { cuts } = feed(HEALTHY, [...at([1000, 1100, 1200, 1300], { status: 500 }), ...at([1400, 1500, 1600], { status: 500 })]);
    expect(cuts).toEqual(['errors@1300->0.5']);
  });

  it('does not count answers to requests sent before the last cut', () => {
    const cut = feed(HEALTHY, at([1000, 1100, 1200, 1300], { status: 500 })).state;
    // Four slow failures that were in flight when the cut came: sent at 1250, before it.
    const { cuts } = feed(cut, at([3250, 3260, 3270, 3280], { status: 500, latency: 2_000 }));
    expect(cuts).toEqual([]);
  });

  it('forgets answers once they have left the window', () => {
    // Two errors early, two late: never two of four within 10 s… but four healthy in between keep the share low.
    const { cuts } = feed(HEALTHY, [
      ...at([0, 100], { status: 500 }),
      ...at([10_000, 10_100]),
      ...at([10_200, 10_300], { status: 500 }),
      ...at([10_400, 10_500]),
    ]);
    // At 10 200 the window holds 10 000-10 200 only (the first bucket has left): 1 error of 3; at 10 300, 2 of 4 → cut.
    expect(cuts).toEqual(['errors@10300->0.5']);
  });

  it('is pure: the state it was given is left as it was', () => {
    const before = feed(HEALTHY, at([1000, 1100])).state;
    const copy = structuredClone(before);
    observeOrigin(before, { sentAt: 1190, at: 1200, status: 500 }, settings);
    expect(before).toEqual(copy);
  });
});
