import type { KeyDecision, KeyRequest } from '../algorithms/decide';
import type { KeyLimiter, KeySnapshot } from './key-limiter';
import { packDecision, unpackSpec } from './wire';

/** The calls a stand-in is built from: `check` decides; the rest default to doing nothing. */
export type StandInCalls = Pick<KeyLimiter, 'check'> & Partial<Omit<KeyLimiter, 'checkPacked' | 'checkBatch'>>;

/**
 * A whole {@link KeyLimiter} from a `check` function, for a key object kept
 * somewhere other than a Durable Object (a test, a simulation): the packed
 * form and batches go through `check`, a lease is never granted (every
 * request is decided by `check`), and releases, charges and inspection do
 * nothing unless given.
 *
 * @example
 * const refusing = keyLimiterFrom({ check: (request) => refuseAll(request) });
 */
export function keyLimiterFrom(calls: StandInCalls): KeyLimiter {
  const { check } = calls;
  const after = <T, U>(value: T | Promise<T>, next: (value: T) => U): U | Promise<U> =>
    value instanceof Promise ? value.then(next) : next(value as T);
  return {
    check: (request) => check(request),
    checkPacked: (now, spec) =>
      after(check({ now, ...unpackSpec(spec) }), (decision: KeyDecision) =>
        isDecision(decision) ? packDecision(decision) : (decision as never),
      ),
    async checkBatch(requests: readonly KeyRequest[]) {
      const decisions: KeyDecision[] = [];
      for (const request of requests) decisions.push(await check(request));
      return decisions;
    },
    lease:
      calls.lease ??
      ((request) => after(check({ now: request.now, limits: request.limits, bans: [] }), (decision: KeyDecision) => ({ decision }))),
    release: calls.release ?? (() => undefined),
    charge: calls.charge ?? (() => undefined),
    inspect: calls.inspect ?? ((): KeySnapshot => ({ limits: [], bans: [], alarmAt: null })),
  };
}

/** Whether `value` is shaped like a decision; anything else is passed on as it came, as a misbehaving object would answer. */
function isDecision(value: unknown): value is KeyDecision {
  return typeof value === 'object' && value !== null && Array.isArray((value as KeyDecision).outcomes);
}
