/**
 * `npm run bench:new-objects`: what a never-seen key costs, taken apart.
 * Every one-object-per-key design creates an object for a key it has not
 * seen; this measures that creation alone (a call that stores nothing), with
 * a row, with an alarm, with both, and exact mode and the npm peer on the
 * same kind of key, as throughput over pass-through's in the same round.
 *
 * Each turn sends `--keys` requests from as many new client addresses (one
 * new object each), after a pass-through turn of the same server. Between
 * turns it waits until workerd has evicted the turn's objects (their open
 * files are closed), so every turn starts from the same state and the
 * process stays far from its limit of open files. The order of the variants
 * rotates every round. It runs twice, with the objects' SQLite files on
 * local disk (the system's temporary directory) and, where /dev/shm exists,
 * on tmpfs, and writes bench/results/new-objects.md.
 *
 *   node bench/new-objects.mjs [--rounds 3] [--keys 1000]
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { numberOption } from './options.mjs';
import { build, pinLoadGenerator, startServer } from './server.mjs';
import { median } from './stats.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = numberOption('--rounds', 3);
const KEYS = numberOption('--keys', 1000);
const PASS_REQUESTS = 4000;
const CONNECTIONS = 32;

const VARIANTS = [
  { id: 'bare', label: 'a call to a new object, nothing stored', path: '/rpc/per-key' },
  { id: 'row', label: '… writing one row', path: '/rpc/per-key?store=row' },
  { id: 'alarm', label: '… setting an alarm', path: '/rpc/per-key?store=alarm' },
  { id: 'both', label: '… writing a row and setting an alarm', path: '/rpc/per-key?store=row,alarm' },
  { id: 'exact', label: 'edge-ratelimit (exact)', path: '/exact/open/fresh' },
  { id: 'peer', label: '@hono-rate-limiter/cloudflare DO store', path: '/peer/open/fresh' },
];

// Unpinned (one core, or no taskset), the figures are still ratios within one round.
const pinned = pinLoadGenerator();

let addresses = 0;
/** A client address not used before in this process. */
const newAddress = () => {
  addresses++;
  return `10.${(addresses >> 16) & 255}.${(addresses >> 8) & 255}.${addresses & 255}`;
};

/** Requests per second over `amount` requests to `path`, each from the address `address()` gives. */
async function drive(url, path, amount, address) {
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    amount,
    // The run ends on a sample tick: sample often, so its end is the last response's.
    sampleInt: 10,
    requests: [
      { method: 'GET', path, setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'cf-connecting-ip': address() } }) },
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${path}: ${result.non2xx} responses other than 2xx, ${result.errors} errors`);
  return amount / seconds;
}

const openFiles = (pid) => readdirSync(`/proc/${pid}/fd`).length;

/** Waits until workerd has closed the files of the objects the last turn created (it evicts an idle object after about ten seconds). */
async function evicted(pid, baseline) {
  const deadline = Date.now() + 60_000;
  while (openFiles(pid) > baseline + 16) {
    if (Date.now() > deadline)
      throw new Error(`workerd still holds ${openFiles(pid)} files (${baseline} at the start) a minute after the turn`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function measure(where, base) {
  const dir = mkdtempSync(join(base, 'edge-ratelimit-new-objects-'));
  build(dir);
  const server = await startServer({ dir, cpu: 0, tightLimit: 100, pin: pinned });
  const ratios = Object.fromEntries(VARIANTS.map((v) => [v.id, []]));
  const rates = Object.fromEntries(VARIANTS.map((v) => [v.id, []]));
  try {
    for (const v of VARIANTS) await drive(server.url, v.path, 200, newAddress);
    const baseline = openFiles(server.pid);
    await evicted(server.pid, baseline);
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
      for (const v of order) {
        const pass = await drive(server.url, '/pass/x', PASS_REQUESTS, () => '198.51.100.250');
        const rate = await drive(server.url, v.path, KEYS, newAddress);
        ratios[v.id].push(rate / pass);
        rates[v.id].push(rate);
        console.log(
          `  ${where} round ${round + 1} ${v.id.padEnd(6)} ${rate.toFixed(0).padStart(6)} req/s, pass-through ${pass.toFixed(0)} req/s: ${(rate / pass).toFixed(3)}×`,
        );
        await evicted(server.pid, baseline);
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { where, base, ratios, rates };
}

const ratio = (n) => (n < 0.1 ? n.toFixed(3) : n.toFixed(2));

const places = [{ where: 'disk', base: tmpdir() }, ...(existsSync('/dev/shm') ? [{ where: 'tmpfs', base: '/dev/shm' }] : [])];
const results = [];
for (const { where, base } of places) {
  console.log(`objects' files on ${where} (${base})`);
  results.push(await measure(where, base));
}

const header = `${'variant'.padEnd(46)}${results.map((r) => `${`${r.where}: × pass`.padStart(16)}${'min–max'.padStart(14)}${'req/s'.padStart(8)}`).join('')}`;
const rows = VARIANTS.map(
  (v) =>
    `${v.label.padEnd(46)}${results
      .map(
        (r) =>
          `${ratio(median(r.ratios[v.id])).padStart(16)}${`${ratio(Math.min(...r.ratios[v.id]))}–${ratio(Math.max(...r.ratios[v.id]))}`.padStart(14)}${median(r.rates[v.id]).toFixed(0).padStart(8)}`,
      )
      .join('')}`,
);
const table = [header, ...rows].join('\n');
console.log(`\n${table}`);

const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
const report = `# What a never-seen key costs

Written by \`npm run bench:new-objects\` on ${new Date().toISOString()}; ${cpu}, ${cpus().length} cores; ${ROUNDS} rounds of ${KEYS} new keys per variant.

Each turn sends ${KEYS} requests from as many new client addresses, so each creates an object, right after a turn of ${PASS_REQUESTS} pass-through requests on the same server; *× pass* is the turn's throughput over that pass-through turn's, as the median over rounds with min–max, and *req/s* the median throughput. Between turns the run waits until workerd has evicted the objects of the last one (about ten seconds), so every turn starts from the same state. The order of the variants rotates every round. The run is made twice: with the objects' SQLite files on local disk, as in \`npm run bench\`, and on tmpfs (\`/dev/shm\`).

\`\`\`
${table}
\`\`\`

*A call to a new object* is pass-through after one call to a new Durable Object that stores nothing; the next rows add one row written, an alarm set, or both, in that call. *edge-ratelimit (exact)* and the *npm DO peer* are the variants of \`npm run bench\` on a new key each: both write the key's row and set an alarm for its clean-up.
`;
writeFileSync(join(ROOT, 'bench', 'results', 'new-objects.md'), report);
console.log('\nwrote bench/results/new-objects.md');
