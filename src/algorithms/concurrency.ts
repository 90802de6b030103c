import type { Algorithm, LimitConfig, LimitDecision, LimitState } from './types';

/** The wait a refusal suggests before any slot was seen given back (ms). */
export const UNOBSERVED_HOLD_MS = 1000;
/** The weight of the newest hold in the running average: 1/8, as TCP smooths round-trip times. */
const HOLD_WEIGHT = 1 / 8;

/** Whether a limit counts requests in flight (slots) rather than requests per window. */
export function holdsSlots(config: Pick<LimitConfig, 'algorithm'>): boolean {
  return config.algorithm === 'concurrency';
}

/** The slots still held at `now`: those whose lease has not ended. */
function heldAt(state: LimitState | undefined, now: number): readonly number[] {
  const slots = state?.slots ?? [];
  let first = 0;
  while (first < slots.length && slots[first]! <= now) first++;
  return first === 0 ? slots : slots.slice(first);
}

/**
 * When a slot whose lease ends at `leaseEnd` is expected back: taken at
 * `leaseEnd - leaseMs`, held for the average hold; a slot held longer than
 * that is expected within another average hold. Never after its lease ends.
 */
function expectedBack(leaseEnd: number, now: number, leaseMs: number, holdMs: number): number {
  const expected = leaseEnd - leaseMs + holdMs;
  return Math.min(leaseEnd, expected > now ? expected : now + holdMs);
}

/** When the first of `slots` is expected back (`now` when none is held). */
function firstBack(slots: readonly number[], now: number, config: LimitConfig, heldMs: number | undefined): number {
  if (slots.length === 0) return now;
  const hold = heldMs ?? UNOBSERVED_HOLD_MS;
  let first = Number.POSITIVE_INFINITY;
  for (const leaseEnd of slots) first = Math.min(first, expectedBack(leaseEnd, now, config.windowMs, hold));
  return first;
}

function stateOf(slots: readonly number[], at: number, heldMs: number | undefined): LimitState {
  return { windowStart: at, current: slots.length, previous: 0, tat: 0, slots, ...(heldMs !== undefined ? { heldMs } : {}) };
}

function decisionOf(state: LimitState, now: number, config: LimitConfig, allowed: boolean): LimitDecision {
  const slots = state.slots ?? [];
  const back = firstBack(slots, now, config, state.heldMs);
  return {
    allowed,
    limit: config.limit,
    used: slots.length,
    remaining: Math.max(0, config.limit - slots.length),
    resetAt: allowed ? back : Math.max(back, now + 1),
    retryAfterMs: allowed ? 0 : Math.max(1, back - now),
  };
}

/**
 * Concurrency: at most `limit` requests in flight per key. A request takes
 * one slot, whatever its cost, whose lease ends `windowMs` after it was
 * taken; the slot comes back when the request is given back ({@link
 * Algorithm.release}, identified by when it was taken) or when its lease
 * ends, so a holder that vanished never keeps it. Slots are fungible: the
 * state is the list of lease ends and a running average of how long slots
 * were held, from which a refusal's wait is worked out (when the first held
 * slot is expected back, never after its lease ends). A refused request
 * never takes a slot, even when its rule counts refusals.
 *
 * @example
 * const config = { algorithm: 'concurrency', limit: 1, windowMs: 60_000 } as const;
 * const first = concurrency.consume(undefined, 0, config, 1, false);
 * concurrency.consume(first.state, 10, config, 1, false).decision.allowed; // false: one in flight
 * const back = concurrency.release(first.state, 500, config, 1, 0);
 * concurrency.consume(back, 600, config, 1, false).decision.allowed; // true
 */
export const concurrency: Algorithm = {
  consume(state, now, config, _cost, _countRefused) {
    const held = heldAt(state, now);
    const allowed = held.length < config.limit;
    // Lease ends only grow with `now`, so appending keeps them ascending; a clock that went back is sorted in.
    const slots = allowed ? insertSorted(held, now + config.windowMs) : held;
    const next = stateOf(slots, now, state?.heldMs);
    return { state: next, decision: decisionOf(next, now, config, allowed) };
  },
  peek(state, now, config) {
    const next = stateOf(heldAt(state, now), state?.windowStart ?? now, state?.heldMs);
    return decisionOf(next, now, config, next.current < config.limit);
  },
  release(state, now, config, _cost, countedAt) {
    const leaseEnd = countedAt + config.windowMs;
    const slots = state.slots ?? [];
    const at = slots.indexOf(leaseEnd);
    // Given back already, or its lease ended: nothing to release.
    if (at < 0) return state;
    const rest = heldAt({ ...state, slots: [...slots.slice(0, at), ...slots.slice(at + 1)] }, now);
    // A slot given back the moment it was taken (its request refused under another key) says nothing of how long requests take.
    const held = now - countedAt;
    const heldMs =
      held <= 0 ? state.heldMs : state.heldMs === undefined ? held : Math.round(state.heldMs + (held - state.heldMs) * HOLD_WEIGHT);
    return stateOf(rest, Math.max(state.windowStart, now), heldMs);
  },
  expiresAt(state, config) {
    // The row outlives its last slot by one lease, so the average hold survives short pauses.
    const slots = state.slots ?? [];
    return Math.max(slots[slots.length - 1] ?? 0, state.windowStart + config.windowMs);
  },
  covers(stored, state) {
    // Restarting from `stored` admits no more, now or later, when it holds at least as many slots whose leases end at least as late.
    const a = stored.slots ?? [];
    const b = state.slots ?? [];
    if (a.length < b.length) return false;
    for (let i = 1; i <= b.length; i++) if (a[a.length - i]! < b[b.length - i]!) return false;
    return true;
  },
};

function insertSorted(slots: readonly number[], leaseEnd: number): number[] {
  let at = slots.length;
  while (at > 0 && slots[at - 1]! > leaseEnd) at--;
  return [...slots.slice(0, at), leaseEnd, ...slots.slice(at)];
}
