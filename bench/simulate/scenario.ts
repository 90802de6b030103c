import { decideKey } from '../../src/algorithms/decide';
import { decideGroups, type KeyAccess } from '../../src/engine/decide-groups';
import { DenyCache } from '../../src/engine/deny-cache';
import { LeaseCache } from '../../src/engine/lease-cache';
import { after } from '../../src/engine/maybe';
import type { Group, VerdictKind } from '../../src/engine/verdict';
import { keyDigester } from '../../src/observability/key-digest';
import { Metrics } from '../../src/observability/metrics';
import { RepeatFolder } from '../../src/observability/repeat-folder';
import { type CompiledPolicy, compilePolicy } from '../../src/policy/compile';
import { parsePolicy } from '../../src/policy/parse';
import type { KeyLimiter } from '../../src/protocol/key-limiter';
import { keyLimiterFrom } from '../../src/protocol/stand-in';
import { type ObjectModel, Placement } from './key-object';
import { Network, type Region, type RttTable, seeded } from './network';
import { SimClock } from './sim-clock';

/** Clients of one region sending on one key, at a steady average rate (Poisson arrivals). */
export interface ClientGroup {
  readonly region: Region;
  /** The key value the rule counts them under (an address, an organisation). */
  readonly key: string;
  readonly ratePerSecond: number;
}

/** Whether every request asks the key's object, or isolates spend leases. */
export type Mode = 'exact' | 'leases';

export interface Scenario {
  readonly name: string;
  readonly mode: Mode;
  readonly clients: readonly ClientGroup[];
  /** The rule's fixed-window limit: `limit` requests per `windowMs`. */
  readonly limit: number;
  readonly windowMs: number;
  /** Lease size and lifetime in leases mode. */
  readonly lease: { readonly size: number; readonly ttlMs: number };
  /** The rule's `onError`. */
  readonly onError: { readonly mode: 'open' | 'closed'; readonly timeoutMs: number };
  /**
   * The middleware's `coalesce` option for leases: a request that finds another request of its isolate asking
   * for the key waits for that call. Off by default, as in the middleware. (Its batching of exact checks is not modelled.)
   */
  readonly coalesce?: boolean;
  /** Worker isolates per region, each with its own lease and deny caches; a request goes to one at random. */
  readonly isolatesPerRegion: number;
  readonly durationMs: number;
  readonly object: ObjectModel;
  /** Where every object is placed, as a `locationHint` would; near the first call for its key when left out. */
  readonly objectRegion?: Region;
  /** One-way trips take half the round trip, stretched by up to this share. */
  readonly jitter: number;
  readonly seed: number;
}

/** What a run measured. */
export interface Outcome {
  readonly requests: number;
  /** Latency the limiter added to each request (ms), from its arrival at the worker to the verdict, sorted. */
  readonly latencies: Float64Array;
  /** The same, of admitted requests only: the latency a request that reaches the origin pays. */
  readonly admittedLatencies: Float64Array;
  readonly admitted: number;
  /** Per key and window with more offered than its limit: admitted ÷ limit. */
  readonly windowRatios: readonly number[];
  readonly failedOpen: number;
  readonly unavailable: number;
  readonly objectCalls: number;
  readonly overloaded: number;
  /** Where each key's object was placed. */
  readonly placements: ReadonlyMap<string, Region>;
}

/** The start of simulated time: a whole number of windows since the epoch, as windows are aligned there. */
export const EPOCH = 1_800_000_000_000;

/**
 * Runs one scenario: the engine's own `decideGroups` (the path of the
 * middleware and `checkLimit`, with its lease and deny caches) in every
 * isolate, against objects that run the real decision code, on a simulated
 * clock and network. Returns what the clients saw.
 */
export async function runScenario(s: Scenario, table: RttTable): Promise<Outcome> {
  const random = seeded(s.seed);
  const clock = new SimClock(EPOCH);
  const network = new Network(table, random, s.jitter);
  const placement = new Placement(clock, network, s.object, s.objectRegion);

  const policy = parsePolicy(
    {
      name: 'simulate',
      rules: [
        {
          name: 'key',
          key: { header: 'x-key' },
          limits: [{ limit: s.limit, window: `${s.windowMs}ms` }],
          onError: s.onError,
          ...(s.mode === 'leases' ? { lease: { size: s.lease.size, ttl: `${s.lease.ttlMs}ms` } } : {}),
        },
      ],
    },
    `simulate ${s.name}`,
  );
  const compiled = compilePolicy(policy);
  const rule = compiled.rules[0]!;

  const isolates = new Map<Region, KeyAccess[]>();
  for (const region of new Set(s.clients.map((c) => c.region))) {
    isolates.set(
      region,
      Array.from({ length: s.isolatesPerRegion }, () => ({
        limiterFor: (name: string) => placement.stub(name, region),
        denyCache: new DenyCache(),
        // As the middleware builds it: without `coalesce`, a request that finds another of its isolate asking for the key asks the object itself.
        leases: s.mode === 'leases' ? new LeaseCache(10_000, 1_000, s.coalesce ?? false, clock) : undefined,
        metrics: new Metrics(),
        repeats: new RepeatFolder(),
        digester: keyDigester(undefined),
        clock,
      })),
    );
  }

  const latencies: number[] = [];
  const admittedLatencies: number[] = [];
  const offered = new Map<string, number>();
  const admittedIn = new Map<string, number>();
  let admitted = 0;
  let unavailable = 0;
  const end = EPOCH + s.durationMs;

  const record = (key: string, arrivedAt: number, kind: VerdictKind) => {
    const latency = clock.now() - arrivedAt;
    latencies.push(latency);
    const cell = `${key}|${Math.floor(arrivedAt / s.windowMs)}`;
    offered.set(cell, (offered.get(cell) ?? 0) + 1);
    if (kind === 'allow') {
      admitted++;
      admittedLatencies.push(latency);
      admittedIn.set(cell, (admittedIn.get(cell) ?? 0) + 1);
    }
    if (kind === 'unavailable') unavailable++;
  };

  const send = (client: ClientGroup) => {
    const arrivedAt = clock.now();
    const pool = isolates.get(client.region)!;
    const keys = pool[Math.floor(random() * pool.length)]!;
    const group: Group = {
      name: `${rule.keySignature}=${client.key}`,
      rules: [rule],
      limits: rule.limits.map((limit) => ({ rule, limit, cost: 1 })),
    };
    after(decideGroups([group], keys, arrivedAt), (verdict) => record(client.key, arrivedAt, verdict.kind));
  };

  // The engine names a refusing key in logs by a digest that WebCrypto computes once per key, outside the simulated
  // clock; asking for each key's once before the run keeps that real-time wait out of the simulated latencies.
  await nameRefusingKeys(compiled, [...new Set(s.clients.map((c) => `${rule.keySignature}=${c.key}`))]);

  for (const client of s.clients) {
    const meanGapMs = 1000 / client.ratePerSecond;
    const next = () => {
      send(client);
      const gap = -Math.log(1 - random()) * meanGapMs;
      if (clock.now() + gap < end) clock.setTimeout(next, gap);
    };
    clock.at(EPOCH + -Math.log(1 - random()) * meanGapMs, next);
  }

  // The engine logs every refusal and fault as a JSON line: thousands a second here, so they are counted, not printed.
  const log = console.log;
  console.log = () => undefined;
  try {
    // Requests still waiting at the end get the time of their timeout to finish.
    await clock.runUntil(end + s.onError.timeoutMs + 1_000, settle);
  } finally {
    console.log = log;
  }

  const windowRatios: number[] = [];
  for (const [cell, count] of offered) if (count > s.limit) windowRatios.push((admittedIn.get(cell) ?? 0) / s.limit);
  let failedOpen = 0;
  for (const pool of isolates.values()) for (const keys of pool) failedOpen += keys.metrics.snapshot().counts.key?.fail_open ?? 0;
  const objects = [...placement.objects.values()];
  return {
    requests: latencies.length,
    latencies: Float64Array.from(latencies).sort(),
    admittedLatencies: Float64Array.from(admittedLatencies).sort(),
    admitted,
    windowRatios,
    failedOpen,
    unavailable,
    objectCalls: objects.reduce((n, o) => n + o.calls, 0),
    overloaded: objects.reduce((n, o) => n + o.overloaded, 0),
    placements: new Map([...placement.objects].map(([name, o]) => [name.slice(name.indexOf('=') + 1), o.region])),
  };
}

/** Runs one refused request for each key through the engine, with an object that refuses at once. */
async function nameRefusingKeys(compiled: CompiledPolicy, names: readonly string[]): Promise<void> {
  const rule = compiled.rules[0]!;
  const refusing: KeyLimiter = keyLimiterFrom({
    check: (request) =>
      decideKey(
        () => undefined,
        () => undefined,
        { ...request, limits: request.limits.map((l) => ({ ...l, cost: l.config.limit + 1 })) },
      ).decision,
  });
  const keys: KeyAccess = {
    limiterFor: () => refusing,
    denyCache: new DenyCache(),
    metrics: new Metrics(),
    digester: keyDigester(undefined),
  };
  const log = console.log;
  console.log = () => undefined;
  try {
    for (const name of names)
      await decideGroups([{ name, rules: [rule], limits: rule.limits.map((limit) => ({ rule, limit, cost: 1 })) }], keys, EPOCH);
  } finally {
    console.log = log;
  }
}

/** Lets every promise continuation pending now run: a macrotask runs only once the microtask queue is empty. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The `q` quantile (0–1) of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
