import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LimitRequest } from './decide';
import { grantLease, type LeaseRequest } from './lease';
import type { LimitConfig, LimitState } from './types';

const fixed: LimitConfig = { algorithm: 'fixed-window', limit: 10, windowMs: 60_000 };
const sliding: LimitConfig = { algorithm: 'sliding-window', limit: 10, windowMs: 60_000 };

function limit(config: LimitConfig, id = 'r/1m', cost = 1): LimitRequest {
  return { id, config, cost, countRefused: false, shadow: false };
}

/** A key's rows in memory, updated with what each grant writes. */
function store() {
  const rows = new Map<string, LimitState>();
  return {
    rows,
    lease(request: LeaseRequest) {
      const { answer, limitWrites } = grantLease((id) => rows.get(id), request);
      for (const [id, state] of limitWrites) rows.set(id, state);
      return { answer, writes: limitWrites.size };
    },
  };
}

describe('grantLease', () => {
  it('grants the requested size, counts it at once, and ends the lease at the ttl', () => {
    const key = store();
    const { answer, writes } = key.lease({ now: 120_000, limits: [limit(fixed)], size: 4, ttlMs: 1_000 });
    expect(answer.grant).toEqual({ units: 4, countedAt: 120_000, expiresAt: 121_000 });
    expect(answer.decision.allowed).toBe(true);
    expect(answer.decision.outcomes[0]!.decision).toMatchObject({ used: 4, remaining: 6 });
    expect(key.rows.get('r/1m')!.current).toBe(4);
    expect(writes).toBe(1);
  });

  it('never lets a lease outlive the window it was counted in', () => {
    const { answer } = store().lease({ now: 179_500, limits: [limit(fixed)], size: 4, ttlMs: 1_000 });
    expect(answer.grant!.expiresAt).toBe(180_000);
  });

  it('grants only the room left, then refuses with the retry time of exact mode and writes nothing', () => {
    const key = store();
    key.lease({ now: 120_000, limits: [limit(fixed)], size: 8, ttlMs: 1_000 });
    expect(key.lease({ now: 120_001, limits: [limit(fixed)], size: 8, ttlMs: 1_000 }).answer.grant!.units).toBe(2);
    const refused = key.lease({ now: 120_002, limits: [limit(fixed)], size: 8, ttlMs: 1_000 });
    expect(refused.answer.grant).toBeUndefined();
    expect(refused.answer.decision.allowed).toBe(false);
    expect(refused.answer.decision.outcomes[0]!.decision.retryAfterMs).toBe(180_000 - 120_002);
    expect(refused.writes).toBe(0);
  });

  it('takes back the unspent part of the previous lease before granting', () => {
    const key = store();
    key.lease({ now: 120_000, limits: [limit(fixed)], size: 10, ttlMs: 1_000 });
    const next = key.lease({ now: 121_000, limits: [limit(fixed)], size: 5, ttlMs: 1_000, giveBack: { units: 7, countedAt: 120_000 } });
    expect(next.answer.grant!.units).toBe(5);
    expect(key.rows.get('r/1m')!.current).toBe(3 + 5);
  });

  it("never takes back a lease counted in a later window than the asker's clock says", () => {
    const key = store();
    // Another isolate, its clock ahead, already moved this key into the next window.
    key.lease({ now: 180_000, limits: [limit(sliding)], size: 2, ttlMs: 1_000 });
    const behind = key.lease({ now: 179_000, limits: [limit(sliding)], size: 3, ttlMs: 1_000 });
    expect(behind.answer.grant!.countedAt).toBe(0);
    const rows = key.rows.get('r/1m');
    const next = { now: 200_000, limits: [limit(sliding)], size: 1, ttlMs: 1_000 };
    const returned = grantLease(() => rows, { ...next, giveBack: { units: 3, countedAt: behind.answer.grant!.countedAt } });
    expect(returned.limitWrites).toEqual(grantLease(() => rows, next).limitWrites);
  });

  it('leases every limit of a key together, sized by the fullest one', () => {
    const key = store();
    const hourly: LimitConfig = { algorithm: 'fixed-window', limit: 3, windowMs: 3_600_000 };
    const { answer } = key.lease({ now: 0, limits: [limit(fixed, 'r/1m'), limit(hourly, 'r/1h')], size: 5, ttlMs: 1_000 });
    expect(answer.grant!.units).toBe(3);
    expect([key.rows.get('r/1m')!.current, key.rows.get('r/1h')!.current]).toEqual([3, 3]);
  });

  it('sizes a sliding-window lease by the weighted count', () => {
    const key = store();
    key.rows.set('r/1m', { windowStart: 60_000, current: 0, previous: 0, tat: 0 });
    key.lease({ now: 60_000, limits: [limit(sliding)], size: 10, ttlMs: 60_000 });
    // Half way through the next window half of the previous 10 still weighs.
    const { answer } = key.lease({ now: 150_000, limits: [limit(sliding)], size: 10, ttlMs: 1_000 });
    expect(answer.grant!.units).toBe(5);
  });

  it('refuses to lease a GCRA bucket', () => {
    expect(() =>
      store().lease({ now: 0, limits: [limit({ algorithm: 'gcra', limit: 10, windowMs: 1_000 })], size: 2, ttlMs: 1_000 }),
    ).toThrow(/cannot be leased/);
  });

  it('never admits more in a window than the limit, whatever isolates do with their leases', () => {
    const event = fc.record({
      isolate: fc.nat(3),
      advance: fc.nat(2_000),
      spend: fc.nat(10),
      giveBack: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 100, max: 30_000 }),
        (events, size, ttlMs) => {
          const config: LimitConfig = { algorithm: 'fixed-window', limit: 10, windowMs: 10_000 };
          const key = store();
          const isolates = new Map<number, { balance: number; countedAt: number; expiresAt: number }>();
          const spentPerWindow = new Map<number, number>();
          let now = 0;
          for (const e of events) {
            now += e.advance;
            let lease = isolates.get(e.isolate);
            for (let i = 0; i < e.spend; i++) {
              if (!lease || lease.expiresAt <= now || lease.balance < 1) {
                const giveBack =
                  e.giveBack && lease && lease.balance > 0 ? { units: lease.balance, countedAt: lease.countedAt } : undefined;
                const { answer } = key.lease({ now, limits: [limit(config)], size, ttlMs, ...(giveBack ? { giveBack } : {}) });
                lease = answer.grant
                  ? { balance: answer.grant.units, countedAt: answer.grant.countedAt, expiresAt: answer.grant.expiresAt }
                  : undefined;
                if (lease) isolates.set(e.isolate, lease);
                else isolates.delete(e.isolate);
                if (!lease) break;
              }
              lease.balance -= 1;
              const window = Math.floor(now / config.windowMs);
              spentPerWindow.set(window, (spentPerWindow.get(window) ?? 0) + 1);
            }
          }
          for (const spent of spentPerWindow.values()) expect(spent).toBeLessThanOrEqual(config.limit);
        },
      ),
      { numRuns: 300 },
    );
  });
});
