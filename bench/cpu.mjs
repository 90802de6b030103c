/**
 * `npm run bench:cpu`: workerd's CPU time per request, one request at a time,
 * for the variants of the hot key and for exact mode with its object call
 * replaced (see `CallMode` in worker.ts), so the cost of exact mode splits
 * into the path around the call, the bare round trip, and what the call
 * carries and decides.
 *
 * Each round sends `--requests` requests per variant through the worker from
 * inside one request (`/__bench/cpu`), in an order rotated every round, and
 * reads workerd's user and system time from /proc around it. The machine's
 * speed drifts between rounds, so the differences that matter are taken
 * within a round and reported as the median over rounds, with their quartiles.
 *
 *   node bench/cpu.mjs [--rounds 12] [--requests 2000]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption } from './options.mjs';
import { build, startServer } from './server.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = numberOption('--rounds', 12);
const REQUESTS = numberOption('--requests', 2000);
const { tightLimit: TIGHT_LIMIT, leaseSize: LEASE_SIZE } = JSON.parse(readFileSync(join(ROOT, 'bench', 'limits.json'), 'utf8'));

const VARIANTS = [
  { id: 'pass', label: 'pass-through', path: '/pass/x', mode: 'real' },
  { id: 'memory', label: 'floor: a count in memory + headers', path: '/memory/x', mode: 'real' },
  { id: 'rpc', label: 'floor: one bare DO call', path: '/rpc/x', mode: 'real' },
  { id: 'lease', label: `edge-ratelimit (leases of ${LEASE_SIZE})`, path: '/lease/open/hot', mode: 'real' },
  { id: 'exact-none', label: 'edge-ratelimit (exact), no object call', path: '/exact/open/hot', mode: 'none' },
  { id: 'exact-bare', label: 'edge-ratelimit (exact), a bare call instead', path: '/exact/open/hot', mode: 'bare' },
  { id: 'exact', label: 'edge-ratelimit (exact)', path: '/exact/open/hot', mode: 'real' },
  { id: 'recorded', label: 'edge-ratelimit (exact), traffic record on', path: '/recorded/open/hot', mode: 'real' },
];
const DIFFERENCES = [
  { label: 'exact mode around its call (no call − pass-through)', of: 'exact-none', minus: 'pass' },
  { label: 'a bare object call inside exact mode (bare − no call)', of: 'exact-bare', minus: 'exact-none' },
  { label: 'a bare object call alone (bare-call floor − pass-through)', of: 'rpc', minus: 'pass' },
  { label: 'what the call carries and decides (exact − bare)', of: 'exact', minus: 'exact-bare' },
  { label: 'leases over the memory floor (leases − memory)', of: 'lease', minus: 'memory' },
  { label: 'the traffic record, a line per request (recorded − exact)', of: 'recorded', minus: 'exact' },
];

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
/** workerd's user + system time so far, in µs (from /proc/<pid>/stat). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
}

async function drive(server, variant, requests) {
  const before = cpuMicros(server.pid);
  const response = await fetch(`${server.url}/__bench/cpu/${requests}/${variant.mode}${variant.path}`, {
    headers: { 'cf-connecting-ip': '198.51.100.250' },
  });
  const { ok } = await response.json();
  const micros = (cpuMicros(server.pid) - before) / requests;
  if (ok !== requests) throw new Error(`${variant.id}: ${ok} of ${requests} requests answered 200`);
  return micros;
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.ceil(at)] - sorted[low]) * (at - low);
};
const summary = (values) => ({ median: quantile(values, 0.5), q1: quantile(values, 0.25), q3: quantile(values, 0.75) });
const fixed = (n) => n.toFixed(0);

async function main() {
  if (!existsProc()) throw new Error('bench:cpu reads /proc/<pid>/stat: Linux only');
  const dir = mkdtempSync(join(tmpdir(), 'edge-ratelimit-cpu-'));
  build(dir);
  const server = await startServer({ dir, cpu: 0, tightLimit: TIGHT_LIMIT, pin: true });
  try {
    for (const variant of VARIANTS) await drive(server, variant, 500);
    const samples = Object.fromEntries(VARIANTS.map((v) => [v.id, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
      for (const variant of order) samples[variant.id].push(await drive(server, variant, REQUESTS));
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${VARIANTS.map((v) => `${v.id} ${fixed(samples[v.id].at(-1))}`).join('  ')}\n`);
    }
    const events = server.events();
    if (events.fail_open || events.fail_closed) throw new Error(`the limiter failed open or closed: ${JSON.stringify(events)}`);
    const results = {
      date: new Date().toISOString(),
      rounds: ROUNDS,
      requestsPerRound: REQUESTS,
      machine: { cpu: cpus()[0]?.model.trim(), nproc: cpus().length, pinned: 'workerd on CPU 0' },
      variants: Object.fromEntries(
        VARIANTS.map((v) => [
          v.id,
          {
            label: v.label,
            microsPerRequest: summary(samples[v.id]),
            timesPass: summary(samples[v.id].map((x, i) => x / samples.pass[i])),
            rounds: samples[v.id],
          },
        ]),
      ),
      differences: DIFFERENCES.map((d) => ({
        ...d,
        micros: summary(samples[d.of].map((x, i) => x - samples[d.minus][i])),
        timesPass: summary(samples[d.of].map((x, i) => (x - samples[d.minus][i]) / samples.pass[i])),
      })),
    };
    const table = render(results);
    console.log(table);
    writeFileSync(join(ROOT, 'bench', 'results', 'cpu.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(ROOT, 'bench', 'results', 'cpu.md'), page(results, table));
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function existsProc() {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

function render(results) {
  const pad = (s, n) => String(s).padEnd(n);
  const padl = (s, n) => String(s).padStart(n);
  const ratio = (n) => n.toFixed(2);
  const row = (label, micros, times) =>
    `${pad(label, 62)}${padl(fixed(micros.median), 15)}${padl(`${fixed(micros.q1)}–${fixed(micros.q3)}`, 14)}${padl(ratio(times.median), 10)}${padl(`${ratio(times.q1)}–${ratio(times.q3)}`, 13)}`;
  const head = (title) =>
    `${pad(title, 62)}${padl('µs CPU/request', 15)}${padl('quartiles', 14)}${padl('× pass', 10)}${padl('quartiles', 13)}`;
  const lines = [head('variant')];
  for (const v of Object.values(results.variants)) lines.push(row(v.label, v.microsPerRequest, v.timesPass));
  lines.push('', head('difference within a round'));
  for (const d of results.differences) lines.push(row(d.label, d.micros, d.timesPass));
  return lines.join('\n');
}

function page(results, table) {
  return `# CPU per request, one request at a time

Written by \`npm run bench:cpu\` on ${results.date}; raw figures in [cpu.json](cpu.json).
${results.rounds} rounds of ${results.requestsPerRound} requests per variant, one after the other, on one hot key; workerd pinned to one core (${results.machine.cpu}, ${results.machine.nproc} cores).
Each figure is workerd's user and system time over the requests of a round (origin included), as the median over rounds with its quartiles; *× pass* divides by pass-through's time in the same round, and differences are taken within each round. The machine is shared and its speed drifts from one minute to the next, so the ratios hold better than the microseconds.

\`\`\`
${table}
\`\`\`

*Exact mode, no object call* runs the whole exact path with the object's answer given at once (the key's last real answer); *a bare call instead* makes a call to the same object that carries nothing and decides nothing, then uses that answer. Without concurrency, no request waits for another, so these are costs, not queueing.
`;
}

await main();
