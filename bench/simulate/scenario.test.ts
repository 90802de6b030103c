import { describe, expect, it } from 'vitest';
import { Network, REGIONS, type RttTable } from './network';
import rtt from './rtt.json';
import { quantile, runScenario, type Scenario } from './scenario';

const TABLE = rtt as RttTable;
/** Every round trip zero: the network takes no time. */
const INSTANT: RttTable = { local: { ms: 0 }, pairs: TABLE.pairs.map((p) => ({ ...p, ms: 0 })) };

const tiny: Scenario = {
  name: 'tiny',
  mode: 'exact',
  clients: [{ region: 'weur', key: 'k', ratePerSecond: 200 }],
  limit: 50,
  windowMs: 1_000,
  lease: { size: 16, ttlMs: 1_000 },
  onError: { mode: 'closed', timeoutMs: 1_000 },
  isolatesPerRegion: 4,
  durationMs: 3_000,
  object: { serviceMs: 0, maxQueueMs: 1_000 },
  jitter: 0,
  seed: 1,
};

describe('the simulator', () => {
  it('admits exactly the limit in every window in exact mode, one region and no network time', async () => {
    const outcome = await runScenario(tiny, INSTANT);
    expect(outcome.windowRatios).toEqual([1, 1, 1]);
    expect(outcome.admitted).toBe(150);
    expect([...new Set(outcome.latencies)]).toEqual([0]);
    expect(outcome.failedOpen + outcome.unavailable + outcome.overloaded).toBe(0);
  });

  it('never admits more than the limit with leases, and exactly it with one isolate', async () => {
    const many = await runScenario({ ...tiny, mode: 'leases' }, INSTANT);
    expect(many.windowRatios).toHaveLength(3);
    for (const r of many.windowRatios) expect(r).toBeLessThanOrEqual(1);
    const one = await runScenario({ ...tiny, mode: 'leases', isolatesPerRegion: 1 }, INSTANT);
    expect(one.windowRatios).toEqual([1, 1, 1]);
    expect(one.objectCalls).toBeLessThan(one.requests / 4);
  });

  it('adds the round trip and the service time to an exact check of an object on another continent', async () => {
    const outcome = await runScenario({ ...tiny, objectRegion: 'apac', limit: 1_000, object: { serviceMs: 1, maxQueueMs: 1_000 } }, TABLE);
    const expected = new Network(TABLE, () => 0).rtt('weur', 'apac') + 1;
    expect(expected).toBe(166);
    expect(outcome.admitted).toBe(outcome.requests);
    // A call that finds the object busy with another waits its turn: the fastest and the typical call pay the round trip and service alone.
    expect(Math.min(...outcome.latencies)).toBeCloseTo(expected, 3);
    expect(quantile(outcome.latencies, 0.5)).toBeCloseTo(expected, 3);
  });

  it('queues calls at an object that is served one at a time: past its throughput, waits grow and calls are refused as overloaded', async () => {
    const outcome = await runScenario(
      {
        ...tiny,
        clients: [{ region: 'weur', key: 'k', ratePerSecond: 2_000 }],
        limit: 1_000_000,
        object: { serviceMs: 1, maxQueueMs: 200 },
        onError: { mode: 'closed', timeoutMs: 1_000 },
      },
      INSTANT,
    );
    expect(outcome.overloaded).toBeGreaterThan(0);
    expect(outcome.unavailable).toBe(outcome.overloaded);
    // About 1,000 calls a second are served, whatever is offered.
    expect(outcome.objectCalls).toBeGreaterThan(2_900);
    expect(outcome.objectCalls).toBeLessThanOrEqual(3_201);
    expect(outcome.latencies.at(-1)).toBeGreaterThan(199);
  });

  it('fails open when the round trip is longer than the timeout, timed on the simulated clock', async () => {
    const outcome = await runScenario({ ...tiny, objectRegion: 'apac', onError: { mode: 'open', timeoutMs: 50 } }, TABLE);
    expect(outcome.failedOpen).toBe(outcome.requests);
    expect(outcome.admitted).toBe(outcome.requests);
    expect(Math.min(...outcome.latencies)).toBeCloseTo(50, 3);
    expect(Math.max(...outcome.latencies)).toBeCloseTo(50, 3);
  });

  it("places each key's object in the region of its first caller", async () => {
    const outcome = await runScenario(
      { ...tiny, clients: REGIONS.map((region) => ({ region, key: `client-in-${region}`, ratePerSecond: 5 })) },
      TABLE,
    );
    expect(new Map(outcome.placements)).toEqual(new Map(REGIONS.map((r) => [`client-in-${r}`, r])));
  });

  it('refuses a round-trip table that misses a pair, naming it', () => {
    expect(() => new Network({ local: { ms: 5 }, pairs: TABLE.pairs.slice(1) }, () => 0)).toThrow(
      'rtt table: pairs: no round trip for afr–apac',
    );
  });
});
