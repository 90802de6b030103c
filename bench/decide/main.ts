// The limiter's decision in a loop, inside one process, with the key's object
// kept in memory: what deciding costs, and nothing else. See bench/decide.mjs.

// bench/decide.mjs points these imports at the sources of the checkout under test.
import { decideKey, type KeyDecision } from '../../src/algorithms/decide';
import { grantLease } from '../../src/algorithms/lease';
import type { LimitState } from '../../src/algorithms/types';
import { Limiter } from '../../src/limiter/limiter';
import type { PolicyInput } from '../../src/policy/schema';
import { keyLimiterFrom } from '../../src/protocol/stand-in';

/** A scenario: a policy, the request it decides, and how the key's object answers. */
export interface Scenario {
  readonly name: string;
  readonly policy: PolicyInput;
  /** Whether the object answers a call with a promise, as a Durable Object's stub does. */
  readonly asyncObject: boolean;
}

const HOUR = '1h';
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'hot key, exact',
    policy: { name: 'exact', rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 1_000_000_000, window: HOUR }] }] },
    asyncObject: true,
  },
  {
    name: 'hot key, leases of 64',
    policy: {
      name: 'lease',
      rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 1_000_000_000, window: HOUR }], lease: { size: 64, ttl: '1s' } }],
    },
    asyncObject: true,
  },
  {
    name: 'flood: refusals known in the isolate',
    policy: { name: 'flood', rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 1, window: HOUR }] }] },
    asyncObject: true,
  },
];

/** A key's object kept in this process: decides with the same pure functions as `RateLimiter`, answering as a stub would. */
function memoryObject(asyncObject: boolean) {
  const rows = new Map<string, LimitState>();
  const read = (id: string) => rows.get(id);
  const answer = <T>(value: T): T | Promise<T> => (asyncObject ? Promise.resolve(value) : value);
  return keyLimiterFrom({
    check: (request) => {
      const { decision, limitWrites } = decideKey(read, () => undefined, request);
      for (const [id, state] of limitWrites) rows.set(id, state);
      return answer<KeyDecision>(decision);
    },
    lease: (request) => {
      const { answer: granted, limitWrites } = grantLease(read, request);
      for (const [id, state] of limitWrites) rows.set(id, state);
      return answer(granted);
    },
  });
}

/** A limiter and what it decides: one client address, one set of bindings (a KV namespace with nothing in it). */
export function prepare(scenario: Scenario) {
  const objects = new Map<string, ReturnType<typeof memoryObject>>();
  const namespace = {
    getByName(name: string) {
      let object = objects.get(name);
      if (!object) objects.set(name, (object = memoryObject(scenario.asyncObject)));
      return object;
    },
  };
  const kv = {
    list: async () => ({ keys: [], list_complete: true, cacheStatus: null }),
    get: async () => null,
  };
  const env = { RATE_LIMITER: namespace, RATE_LIMIT_CONFIG: kv };
  const limiter = new Limiter({ policy: scenario.policy });
  const request = new Request('https://bench.example/api/x', { headers: { 'cf-connecting-ip': '198.51.100.7' } });
  const scope = { env, keepAlive: () => undefined };
  const background: Array<Promise<void>> = [];
  let now = Date.UTC(2026, 0, 1);
  let refused = 0;

  /**
   * Decides `n` requests one after another, as the middleware awaits each:
   * the process's CPU time per decision, in µs (on a busy machine, time
   * the process waits for a core does not count).
   */
  async function drive(n: number): Promise<number> {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      // A millisecond a request: leases lapse and top up as they would at a thousand requests a second.
      now += 1;
      const deciding = limiter.decide(request, now, scope);
      const verdict = deciding instanceof Promise ? await deciding : deciding;
      if (verdict.kind !== 'allow') refused++;
      if (verdict.background) background.push(verdict.background);
    }
    const used = process.cpuUsage(start);
    const micros = (used.user + used.system) / n;
    await Promise.all(background.splice(0));
    return micros;
  }
  return { drive, refused: () => refused };
}
