import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capacityAt, HEALTHY, type HealthSettings, type HealthState, observeOrigin } from './health-state';

const settingsArb: fc.Arbitrary<HealthSettings> = fc.record({
  windowMs: fc.integer({ min: 1000, max: 60_000 }),
  minRequests: fc.integer({ min: 1, max: 20 }),
  errorRate: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { nil: undefined }),
  latency: fc.option(fc.record({ p: fc.double({ min: 0.5, max: 0.99, noNaN: true }), aboveMs: fc.integer({ min: 1, max: 5000 }) }), {
    nil: undefined,
  }),
  retryAfter: fc.boolean(),
  maxHoldMs: fc.integer({ min: 1000, max: 600_000 }),
  cut: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
  recoverBy: fc.double({ min: 0.01, max: 1, noNaN: true }),
  everyMs: fc.integer({ min: 100, max: 60_000 }),
  floor: fc.double({ min: 0.01, max: 0.95, noNaN: true }),
});

/** Answers in time order: a gap since the previous one, a latency, a status, maybe a Retry-After. */
const answersArb = fc.array(
  fc.record({
    gap: fc.integer({ min: 0, max: 3000 }),
    latency: fc.integer({ min: 0, max: 6000 }),
    status: fc.constantFrom(200, 200, 200, 404, 500, 502, 503, 504),
    retryAfterMs: fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
  }),
  { maxLength: 200 },
);

function run(
  settings: HealthSettings,
  answers: ReadonlyArray<{ gap: number; latency: number; status: number; retryAfterMs?: number | undefined }>,
) {
  let state: HealthState = HEALTHY;
  let at = 100_000;
  const steps: Array<{ before: HealthState; after: HealthState; at: number; cut: boolean; status: number }> = [];
  for (const a of answers) {
    at += a.gap;
    const before = state;
    const step = observeOrigin(state, { sentAt: at - a.latency, at, status: a.status, retryAfterMs: a.retryAfterMs }, settings);
    state = step.state;
    steps.push({ before, after: state, at, cut: step.cut !== undefined, status: a.status });
  }
  return { state, at, steps };
}

describe('the origin health state, for any settings and answers', () => {
  it('keeps the factor between the floor and 1, at any time', () => {
    fc.assert(
      fc.property(settingsArb, answersArb, fc.integer({ min: 0, max: 10_000_000 }), (settings, answers, later) => {
        const { steps, at } = run(settings, answers);
        for (const { after, at: t } of steps) {
          const f = capacityAt(after, t, settings);
          expect(f).toBeGreaterThanOrEqual(Math.min(settings.floor, 1) - 1e-9);
          expect(f).toBeLessThanOrEqual(1);
        }
        const last = steps.at(-1)?.after ?? HEALTHY;
        expect(capacityAt(last, at + later, settings)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('only recovers while no answer comes: the factor never falls as time passes', () => {
    fc.assert(
      fc.property(settingsArb, answersArb, fc.array(fc.integer({ min: 0, max: 100_000 }), { maxLength: 10 }), (settings, answers, gaps) => {
        const { state, at } = run(settings, answers);
        let t = at;
        let previous = capacityAt(state, t, settings);
        for (const gap of gaps) {
          t += gap;
          const f = capacityAt(state, t, settings);
          expect(f).toBeGreaterThanOrEqual(previous);
          previous = f;
        }
      }),
    );
  });

  it('comes back to full capacity once the hold and enough steps have passed', () => {
    fc.assert(
      fc.property(settingsArb, answersArb, (settings, answers) => {
        const { state } = run(settings, answers);
        const steps = Math.ceil(1 / settings.recoverBy) + 1;
        const t = Math.max(state.cutAt, state.holdUntil) + steps * settings.everyMs;
        expect(capacityAt(state, t, settings)).toBe(1);
      }),
    );
  });

  it('lowers the factor only by a cut, and a cut never raises it', () => {
    fc.assert(
      fc.property(settingsArb, answersArb, (settings, answers) => {
        for (const { before, after, at, cut } of run(settings, answers).steps) {
          const was = capacityAt(before, at, settings);
          const is = capacityAt(after, at, settings);
          if (cut) expect(is).toBeLessThanOrEqual(Math.max(was, settings.floor));
          else expect(is).toBe(was);
        }
      }),
    );
  });

  it('never cuts on healthy answers alone (2xx–4xx, on time)', () => {
    fc.assert(
      fc.property(settingsArb, answersArb, (settings, answers) => {
        const healthy = answers.map((a) => ({ ...a, status: a.status >= 500 ? 200 : a.status, latency: 0 }));
        expect(run(settings, healthy).steps.some((s) => s.cut)).toBe(false);
      }),
    );
  });
});
