// `npm run bench:decide [-- --against <checkout>] [-- --rounds 61] [-- --requests 2000]`:
// the limiter's decision in a loop, inside one Node process, as CPU time per decision, with each key's
// object kept in memory (bench/decide/main.ts): the cost of deciding, without
// the runtime, the network or the origin. With `--against`, the same loop runs
// on another checkout's sources (another branch, the commit before a change)
// in the same process, in alternating turns, and each round's time is given as
// a ratio to the other checkout's in the same round: the machine's speed
// drifts, a ratio within a round much less.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importBundled } from './bundle.mjs';
import { numberOption } from './options.mjs';
import { median } from './stats.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const againstArg = argv.indexOf('--against');
const AGAINST = againstArg >= 0 ? resolve(argv[againstArg + 1]) : undefined;
const ROUNDS = numberOption('--rounds', 61);
const REQUESTS = numberOption('--requests', 2_000);

/** Bundles the loop over the sources of `tree`: the loop's imports of `../../src/…` are taken from there. */
function bundle(tree, out, name) {
  const underTest = {
    name: 'under-test',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/\.\.\/src\// }, (args) => ({ path: `${join(tree, args.path.slice('../../'.length))}.ts` }));
    },
  };
  return importBundled(join(ROOT, 'bench', 'decide', 'main.ts'), join(out, `${name}.mjs`), [underTest]);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.ceil(at)] - sorted[low]) * (at - low);
};

const out = mkdtempSync(join(tmpdir(), 'bench-decide-'));
try {
  const builds = [{ name: 'this checkout', module: await bundle(ROOT, out, 'this') }];
  if (AGAINST) builds.push({ name: `against ${AGAINST}`, module: await bundle(AGAINST, out, 'against') });
  // The logs of refusals would be most of the time measured.
  console.log = () => undefined;
  const print = (line) => process.stdout.write(`${line}\n`);
  print(`${ROUNDS} rounds of ${REQUESTS} decisions per scenario and checkout, in turns; µs of CPU per decision`);
  const rows = [];
  for (const scenario of builds[0].module.SCENARIOS) {
    const runs = builds.map((b) => ({ ...b, loop: b.module.prepare(b.module.SCENARIOS.find((s) => s.name === scenario.name)), times: [] }));
    // Warm-up: the JIT, the caches, the first lease and refusal.
    for (const r of runs) await r.loop.drive(REQUESTS);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? runs : [...runs].reverse();
      for (const r of order) r.times.push(await r.loop.drive(REQUESTS));
    }
    const row = {
      scenario: scenario.name,
      builds: runs.map((r) => ({ name: r.name, median: median(r.times), q1: quantile(r.times, 0.25), q3: quantile(r.times, 0.75) })),
    };
    if (runs.length === 2) {
      const ratios = runs[0].times.map((t, i) => t / runs[1].times[i]);
      row.ratio = {
        median: median(ratios),
        q1: quantile(ratios, 0.25),
        q3: quantile(ratios, 0.75),
        min: Math.min(...ratios),
        max: Math.max(...ratios),
      };
    }
    rows.push(row);
  }
  const f = (n) => n.toFixed(2);
  print('');
  print(
    `| scenario | ${builds.map((b) => `${b.name}: µs per decision (quartiles)`).join(' | ')}${AGAINST ? ' | this ÷ against, per round: median (quartiles; min–max)' : ''} |`,
  );
  print(`| --- |${builds.map(() => ' --- |').join('')}${AGAINST ? ' --- |' : ''}`);
  for (const row of rows)
    print(
      `| ${row.scenario} | ${row.builds.map((b) => `${f(b.median)} (${f(b.q1)}–${f(b.q3)})`).join(' | ')}${row.ratio ? ` | ${f(row.ratio.median)} (${f(row.ratio.q1)}–${f(row.ratio.q3)}; ${f(row.ratio.min)}–${f(row.ratio.max)}) |` : ' |'}`,
    );
} finally {
  rmSync(out, { recursive: true, force: true });
}
