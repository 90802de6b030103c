/** A Durable Object location-hint region. */
export type Region = 'wnam' | 'enam' | 'sam' | 'weur' | 'eeur' | 'me' | 'afr' | 'apac' | 'oc';

export const REGIONS: readonly Region[] = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'me', 'afr', 'apac', 'oc'];

/** The shape of `rtt.json`: round trips between regions, each with its source. */
export interface RttTable {
  readonly local: { readonly ms: number };
  readonly pairs: ReadonlyArray<{ readonly a: string; readonly b: string; readonly ms: number; readonly source: string }>;
}

/**
 * Round-trip times between regions, from a table that must name every pair
 * once (both directions are the same). A one-way trip is half a round trip,
 * stretched by up to `jitter` (a share of it) drawn from `random`.
 */
export class Network {
  private readonly rtts = new Map<string, number>();

  constructor(
    table: RttTable,
    private readonly random: () => number,
    private readonly jitter = 0,
  ) {
    if (!(table.local.ms >= 0)) throw new Error(`rtt table: local: ${table.local.ms} is not a round trip in ms`);
    for (const region of REGIONS) this.rtts.set(`${region}|${region}`, table.local.ms);
    for (const [i, { a, b, ms }] of table.pairs.entries()) {
      for (const r of [a, b]) if (!REGIONS.includes(r as Region)) throw new Error(`rtt table: pairs[${i}]: unknown region "${r}"`);
      if (!(ms >= 0)) throw new Error(`rtt table: pairs[${i}].ms: ${ms} is not a round trip in ms`);
      if (this.rtts.has(`${a}|${b}`)) throw new Error(`rtt table: pairs[${i}]: ${a}–${b} given twice`);
      this.rtts.set(`${a}|${b}`, ms).set(`${b}|${a}`, ms);
    }
    for (const a of REGIONS)
      for (const b of REGIONS) if (!this.rtts.has(`${a}|${b}`)) throw new Error(`rtt table: pairs: no round trip for ${a}–${b}`);
  }

  /** The table's round trip between two regions, in ms. */
  rtt(a: Region, b: Region): number {
    return this.rtts.get(`${a}|${b}`)!;
  }

  /** One trip from `a` to `b` (or back), in ms, with its jitter. */
  oneWay(a: Region, b: Region): number {
    return (this.rtt(a, b) / 2) * (1 + this.jitter * this.random());
  }
}

/** A seeded pseudo-random source (mulberry32): the same seed, the same run. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
