import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chart } from './chart';
import type { RttTable } from './network';
import { type Row, render } from './report';
import { quantile, runScenario } from './scenario';
import { CASES } from './scenarios';

/** Runs every case in every mode, prints the table and writes it, with a chart and the raw figures, to `bench/results/`. */
export async function main(root: string): Promise<void> {
  const table = JSON.parse(readFileSync(join(root, 'bench', 'simulate', 'rtt.json'), 'utf8')) as RttTable;
  const rows: Row[] = [];
  const started = performance.now();
  for (const c of CASES) {
    for (const mode of c.modes) {
      const scenario = c.make(mode);
      const t = performance.now();
      const outcome = await runScenario(scenario, table);
      const ratios = outcome.windowRatios;
      rows.push({
        case: c,
        mode,
        scenario,
        requests: outcome.requests,
        p50: quantile(outcome.admittedLatencies, 0.5),
        p99: quantile(outcome.admittedLatencies, 0.99),
        allP50: quantile(outcome.latencies, 0.5),
        allP99: quantile(outcome.latencies, 0.99),
        admitted: outcome.admitted,
        waited: outcome.admittedLatencies.filter((l) => l > 0.5).length / Math.max(1, outcome.admitted),
        worstRatio: ratios.length ? Math.max(...ratios) : Number.NaN,
        meanRatio: ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : Number.NaN,
        windows: ratios.length,
        failedOpen: outcome.failedOpen,
        overloaded: outcome.overloaded,
        objectCallsPerRequest: outcome.objectCalls / outcome.requests,
        placements: [...new Set(outcome.placements.values())],
        seconds: (performance.now() - t) / 1000,
      });
      const r = rows.at(-1)!;
      console.log(
        `${scenario.name.padEnd(36)} admitted: p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  admitted/limit ≤ ${r.worstRatio.toFixed(3)}  object in ${r.placements.join(',')}  (${r.seconds.toFixed(1)} s)`,
      );
    }
  }
  const results = join(root, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'simulate.md'), render(rows, table, new Date()));
  writeFileSync(join(results, 'simulate.svg'), chart(rows));
  writeFileSync(
    join(results, 'simulate.json'),
    `${JSON.stringify(
      rows.map(({ case: c, scenario, ...r }) => ({ case: c.id, variant: c.variant, ...r, scenario })),
      null,
      1,
    )}\n`,
  );
  console.log(
    `\nwrote bench/results/simulate.md, simulate.svg and simulate.json in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}
