import { describe, expect, it } from 'vitest';
import { concurrency, UNOBSERVED_HOLD_MS } from './concurrency';
import type { LimitConfig, LimitState } from './types';

const config: LimitConfig = { algorithm: 'concurrency', limit: 2, windowMs: 60_000 };
const T0 = 1_800_000_000_000;

function take(state: LimitState | undefined, now: number) {
  return concurrency.consume(state, now, config, 1, false);
}

describe('concurrency', () => {
  it('admits the limit in flight, then refuses until a slot is given back', () => {
    const a = take(undefined, T0);
    const b = take(a.state, T0 + 10);
    const c = take(b.state, T0 + 20);
    expect([a, b, c].map((t) => [t.decision.allowed, t.decision.used, t.decision.remaining])).toEqual([
      [true, 1, 1],
      [true, 2, 0],
      [false, 2, 0],
    ]);
    const back = concurrency.release(c.state, T0 + 500, config, 1, T0);
    const d = take(back, T0 + 501);
    expect(d.decision).toMatchObject({ allowed: true, used: 2, remaining: 0 });
  });

  it('takes one slot per request whatever its cost', () => {
    const t = concurrency.consume(undefined, T0, config, 5, false);
    expect(t.decision).toMatchObject({ allowed: true, used: 1 });
  });

  it('never takes a slot for a refused request, even when refusals count', () => {
    const full = take(take(undefined, T0).state, T0 + 1).state;
    const refused = concurrency.consume(full, T0 + 2, config, 1, true);
    expect(refused.decision.allowed).toBe(false);
    expect(refused.state.slots).toEqual(full.slots);
  });

  it('gives a slot back by itself when its lease ends', () => {
    const full = take(take(undefined, T0).state, T0 + 1).state;
    expect(take(full, T0 + 59_999).decision.allowed).toBe(false);
    const later = take(full, T0 + 60_000);
    expect(later.decision).toMatchObject({ allowed: true, used: 2 });
    expect(later.state.slots).toEqual([T0 + 60_001, T0 + 120_000]);
  });

  it('releases a slot once: a second release of the same request changes nothing', () => {
    const held = take(take(undefined, T0).state, T0 + 5).state;
    const once = concurrency.release(held, T0 + 100, config, 1, T0);
    const twice = concurrency.release(once, T0 + 100, config, 1, T0);
    expect(once.slots).toEqual([T0 + 60_005]);
    expect(twice).toEqual(once);
  });

  it('ignores the release of a slot whose lease already ended', () => {
    const held = take(undefined, T0).state;
    const after = concurrency.release(held, T0 + 70_000, config, 1, T0 - 1);
    expect(after).toBe(held);
  });

  it('learns how long slots are held, and ignores slots given back the moment they were taken', () => {
    let state = take(undefined, T0).state;
    state = concurrency.release(state, T0 + 2000, config, 1, T0);
    expect(state.heldMs).toBe(2000);
    state = take(state, T0 + 3000).state;
    state = concurrency.release(state, T0 + 3000, config, 1, T0 + 3000);
    expect(state.heldMs).toBe(2000);
    state = take(state, T0 + 4000).state;
    state = concurrency.release(state, T0 + 14_000, config, 1, T0 + 4000);
    // The newest hold weighs 1/8: 2000 + (10000 - 2000) / 8.
    expect(state.heldMs).toBe(3000);
  });

  it('tells a refusal to wait until the first slot is expected back, from the holds it has seen', () => {
    let state = take(undefined, T0).state;
    state = concurrency.release(state, T0 + 2000, config, 1, T0);
    state = take(state, T0 + 10_000).state;
    state = take(state, T0 + 10_500).state;
    const refused = take(state, T0 + 11_000).decision;
    // The first slot, taken at +10 000, is expected back 2 000 ms later.
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 1000, resetAt: T0 + 12_000 });
  });

  it('waits a default hold before any was seen, and another average hold for an overdue slot, never past its lease', () => {
    const full = take(take(undefined, T0).state, T0).state;
    expect(take(full, T0 + 100).decision.retryAfterMs).toBe(UNOBSERVED_HOLD_MS - 100);
    expect(take(full, T0 + 5000).decision.retryAfterMs).toBe(UNOBSERVED_HOLD_MS);
    expect(take(full, T0 + 59_500).decision.retryAfterMs).toBe(500);
  });

  it('refuses every request at a limit of 0', () => {
    const t = concurrency.consume(undefined, T0, { ...config, limit: 0 }, 1, false);
    expect(t.decision).toMatchObject({ allowed: false, used: 0, remaining: 0 });
    expect(t.state.slots).toEqual([]);
  });

  it('peeks without taking a slot', () => {
    const held = take(undefined, T0).state;
    expect(concurrency.peek(held, T0 + 1, config)).toMatchObject({ allowed: true, used: 1, remaining: 1 });
    expect(concurrency.peek(held, T0 + 60_000, config)).toMatchObject({ used: 0, remaining: 2 });
  });

  it('keeps its row one lease past the last change, or until its last slot’s lease ends', () => {
    const held = take(undefined, T0).state;
    expect(concurrency.expiresAt(held, config)).toBe(T0 + 60_000);
    const back = concurrency.release(held, T0 + 10, config, 1, T0);
    expect(concurrency.expiresAt(back, config)).toBe(T0 + 60_010);
  });

  it('covers a state holding no more slots, none of them ending later', () => {
    const one = take(undefined, T0).state;
    const two = take(one, T0 + 1).state;
    const released = concurrency.release(two, T0 + 2, config, 1, T0 + 1);
    expect(concurrency.covers(two, one)).toBe(true);
    expect(concurrency.covers(two, released)).toBe(true);
    expect(concurrency.covers(one, two)).toBe(false);
    const later = take(released, T0 + 3).state;
    expect(concurrency.covers(two, later)).toBe(false);
  });
});
