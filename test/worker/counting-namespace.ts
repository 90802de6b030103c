import type { KeyLimiter } from '../../src/protocol/key-limiter';

/** A Durable Object namespace that counts the calls made to its objects, per method. */
export function countingNamespace(namespace: { getByName(name: string): unknown }) {
  const calls: Record<string, number> = { check: 0, lease: 0, release: 0, checkBatch: 0 };
  const wrapped = {
    getByName(name: string): KeyLimiter {
      const stub = namespace.getByName(name) as unknown as KeyLimiter;
      return {
        check: (request) => (calls.check!++, stub.check(request)),
        // The packed form of the same call: counted as a check.
        checkPacked: (now, spec) => (calls.check!++, stub.checkPacked(now, spec)),
        release: (now, releases) => (calls.release!++, stub.release(now, releases)),
        // Counted only once used, like inspect.
        charge: (now, charges) => ((calls.charge = (calls.charge ?? 0) + 1), stub.charge(now, charges)),
        lease: (request) => (calls.lease!++, stub.lease(request)),
        checkBatch: (requests) => (calls.checkBatch!++, stub.checkBatch(requests)),
        // Counted only once used, so call counts of the request path read as before.
        inspect: (now) => ((calls.inspect = (calls.inspect ?? 0) + 1), stub.inspect(now)),
      };
    },
  };
  return { namespace: wrapped, calls, total: () => Object.values(calls).reduce((a, b) => a + b, 0) };
}
