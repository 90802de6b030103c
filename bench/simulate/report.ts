import type { RttTable } from './network';
import { REGIONS } from './network';
import type { Mode, Scenario } from './scenario';
import type { Case } from './scenarios';

/** One run's figures, as the table shows them. */
export interface Row {
  readonly case: Case;
  readonly mode: Mode;
  readonly scenario: Scenario;
  readonly requests: number;
  readonly admitted: number;
  /** Added latency of admitted requests (ms). */
  readonly p50: number;
  readonly p99: number;
  /** Added latency of every request, refused ones included (ms). */
  readonly allP50: number;
  readonly allP99: number;
  /** Share of admitted requests that waited for a call to the object (over 0.5 ms added). */
  readonly waited: number;
  /** Admitted ÷ limit over the key-windows offered more than the limit: the worst and the mean. */
  readonly worstRatio: number;
  readonly meanRatio: number;
  readonly windows: number;
  readonly failedOpen: number;
  readonly overloaded: number;
  readonly objectCallsPerRequest: number;
  readonly placements: readonly string[];
  readonly seconds: number;
}

const ms = (v: number) => (v < 10 ? v.toFixed(1) : v.toFixed(0));
const ratio = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(3));

/** The goal: the per-organisation key used worldwide, with leases, adds at most 5 ms at the median and never admits more than the limit. */
export function goal(rows: readonly Row[]): { readonly row: Row | undefined; readonly met: boolean } {
  const row = rows.find((r) => r.case.id === 'org' && r.mode === 'leases');
  return { row, met: row !== undefined && row.p50 <= 5 && row.worstRatio <= 1 };
}

/** The markdown of `bench/results/simulate.md`. */
export function render(rows: readonly Row[], table: RttTable, at: Date): string {
  const lines = [
    '# Global latency and exactness (simulated)',
    '',
    `Written by \`npm run simulate\` on ${at.toISOString()}; raw figures in [simulate.json](simulate.json), the chart in [simulate.svg](simulate.svg). What the model is and how to read it: [docs/global-latency.md](../../docs/global-latency.md).`,
    '',
    '![added latency per scenario and mode](simulate.svg)',
    '',
    '| scenario | mode | object in | requests | admitted | added p50 ms | added p99 ms | waited for the object | all requests: p50 ms | p99 ms | admitted ÷ limit, worst window | mean | object calls per request | failed open | overloaded |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const title = r.case.variant ? `${r.case.title}; ${r.case.variant}` : r.case.title;
    const where = r.placements.length > 3 ? `${r.placements.length} regions (each key its first caller's)` : r.placements.join(', ');
    lines.push(
      `| ${title} | ${r.mode} | ${where} | ${r.requests} | ${r.admitted} | ${ms(r.p50)} | ${ms(r.p99)} | ${(100 * r.waited).toFixed(1)} % | ${ms(r.allP50)} | ${ms(r.allP99)} | ${ratio(r.worstRatio)} | ${ratio(r.meanRatio)} | ${r.objectCallsPerRequest.toFixed(3)} | ${r.failedOpen} | ${r.overloaded} |`,
    );
  }
  const { row, met } = goal(rows);
  lines.push(
    '',
    '"Added" is the time from a request reaching the worker to the limiter\'s verdict: the round trips to the key\'s object and its queue (the isolate\'s own CPU time is not modelled). "Added p50/p99" are of admitted requests, the ones that reach the origin, and "waited for the object" is the share of them that paid a call; "all requests" adds the refused ones, most of which the isolate answers at once from its deny cache. "Admitted ÷ limit" counts, per key and 10 s window offered more than its limit, the requests let through (fail-open ones included) over the limit: 1.000 is exact, above 1 over-admits, below 1 refuses early (units leased but not spent when the window ended).',
    '',
    '## Goal',
    '',
    row
      ? `Per-organisation key used from five continents, with leases: added p50 ${ms(row.p50)} ms (goal ≤ 5 ms), admitted ÷ limit at most ${ratio(row.worstRatio)} (goal ≤ 1): **${met ? 'met' : 'not met'}**.`
      : 'The per-organisation run with leases is missing.',
    '',
    '## Round trips used (ms)',
    '',
    `Same region: ${table.local.ms} ms. Sources and the public region each one stands for: [bench/simulate/rtt.json](../simulate/rtt.json).`,
    '',
    `| | ${REGIONS.join(' | ')} |`,
    `| --- | ${REGIONS.map(() => '---:').join(' | ')} |`,
  );
  for (const a of REGIONS) {
    const cells = REGIONS.map((b) => {
      if (a === b) return String(table.local.ms);
      const pair = table.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a))!;
      return pair.source === 'unverified' ? `${pair.ms}*` : String(pair.ms);
    });
    lines.push(`| ${a} | ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    "\\* no published measurement found: an unverified typical figure. Unmarked inter-region figures are published measurements (cloudping.co, IBM Cloud's 2024 inter-region table, a 2017 AWS matrix), read 2026-12-06, each cited with its page and cells in rtt.json; the same-region figure is an assumption.",
    '',
  );
  return lines.join('\n');
}
