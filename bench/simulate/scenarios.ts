import type { ObjectModel } from './key-object';
import { REGIONS, type Region } from './network';
import type { ClientGroup, Mode, Scenario } from './scenario';

/** An object serves one call per ms (its ~1,000 requests/s soft limit); a call that would queue for over a second is refused as overloaded. */
export const OBJECT: ObjectModel = { serviceMs: 1, maxQueueMs: 1_000 };

/** A timeout long enough for any round trip in the table, so exact mode is measured, not its fault setting. */
const PATIENT = { mode: 'open', timeoutMs: 1_000 } as const;

/** The continents the per-organisation key's traffic comes from. */
export const ORG_REGIONS: readonly Region[] = ['enam', 'weur', 'apac', 'sam', 'oc'];

/** A situation to simulate in both modes; `variant` names a setting that differs from the main runs. */
export interface Case {
  readonly id: string;
  readonly title: string;
  readonly variant?: string;
  readonly modes: readonly Mode[];
  readonly make: (mode: Mode) => Scenario;
}

const base = { windowMs: 10_000, lease: { size: 64, ttlMs: 1_000 }, onError: PATIENT, object: OBJECT, jitter: 0.1, seed: 7 } as const;

export const CASES: readonly Case[] = [
  {
    id: 'per-ip',
    title: 'per-IP keys, client and object in the same region',
    modes: ['exact', 'leases'],
    make: (mode) => ({
      ...base,
      name: `per-ip ${mode}`,
      mode,
      // 10 addresses in each of the 9 regions, 10 requests/s each against 60 per 10 s.
      clients: REGIONS.flatMap((region): ClientGroup[] =>
        Array.from({ length: 10 }, (_, i) => ({ region, key: `${region}-client-${i}`, ratePerSecond: 10 })),
      ),
      limit: 60,
      isolatesPerRegion: 8,
      durationMs: 20_000,
    }),
  },
  {
    id: 'org',
    title: 'one organisation key, traffic from five continents',
    modes: ['exact', 'leases'],
    make: (mode) => ({
      ...base,
      name: `org ${mode}`,
      mode,
      // 100 requests/s from each continent, 500/s in all, against 3,000 per 10 s (300/s).
      clients: ORG_REGIONS.map((region) => ({ region, key: 'org-1', ratePerSecond: 100 })),
      limit: 3_000,
      isolatesPerRegion: 8,
      durationMs: 30_000,
    }),
  },
  ...[16, 32, 64].map(
    (isolates): Case => ({
      id: `org-${isolates}-isolates`,
      title: 'one organisation key, five continents',
      variant: `${isolates} isolates per region instead of 8 (${(100 / isolates).toFixed(1)} requests/s each)`,
      modes: ['leases'],
      make: (mode) => ({
        ...base,
        name: `org ${mode}, ${isolates} isolates a region`,
        mode,
        clients: ORG_REGIONS.map((region) => ({ region, key: 'org-1', ratePerSecond: 100 })),
        limit: 3_000,
        isolatesPerRegion: isolates,
        durationMs: 30_000,
      }),
    }),
  ),
  {
    id: 'org-default-timeout',
    title: 'one organisation key, five continents',
    variant: 'onError at its default (open, 50 ms)',
    modes: ['exact'],
    make: (mode) => ({
      ...base,
      name: `org ${mode}, default onError`,
      mode,
      clients: ORG_REGIONS.map((region) => ({ region, key: 'org-1', ratePerSecond: 100 })),
      limit: 3_000,
      onError: { mode: 'open', timeoutMs: 50 },
      isolatesPerRegion: 8,
      durationMs: 30_000,
    }),
  },
  {
    id: 'hot',
    title: "one key at 10× its object's ~1,000 requests/s",
    modes: ['exact', 'leases'],
    make: (mode) => ({
      ...base,
      name: `hot ${mode}`,
      mode,
      // 10,000 requests/s from one region against 60,000 per 10 s (6,000/s).
      clients: [{ region: 'weur', key: 'hot-1', ratePerSecond: 10_000 }],
      limit: 60_000,
      isolatesPerRegion: 16,
      // One window: 100,000 requests per mode keep the run short.
      durationMs: 10_000,
    }),
  },
  {
    id: 'hot-coalesce',
    title: "one key at 10× its object's ~1,000 requests/s",
    variant: 'middleware option `coalesce: true`',
    modes: ['leases'],
    make: (mode) => ({
      ...base,
      name: `hot ${mode}, coalesce`,
      mode,
      clients: [{ region: 'weur', key: 'hot-1', ratePerSecond: 10_000 }],
      limit: 60_000,
      isolatesPerRegion: 16,
      durationMs: 10_000,
      coalesce: true,
    }),
  },
];
