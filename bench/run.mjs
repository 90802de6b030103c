// `npm run bench [-- --quick] [-- --runs N] [-- --render] [-- --scenario hot,flood (or --only) --variants pass,rpc,exact]`: the limiter against pass-through,
// the Workers Rate Limiting binding and an npm Durable Object peer, in one
// run, on the real worker bundle under workerd. See bench/results/README.md.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { chart } from './chart.mjs';
import { build, pinLoadGenerator, startServer } from './server.mjs';
import { median } from './stats.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results');
const { tightLimit: TIGHT_LIMIT, leaseSize: LEASE_SIZE } = JSON.parse(readFileSync(join(ROOT, 'bench', 'limits.json'), 'utf8'));

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
/** `--render`: rewrite bench/results/README.md and chart.svg from the committed results.json and results.txt, measuring nothing. */
const RENDER = argv.includes('--render');
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : QUICK ? 1 : 3;
const DURATION = QUICK ? 1.5 : 2;
/** The hot key carries the throughput goals: it is measured three times as long, so its medians settle closer. */
const HOT_DURATION = QUICK ? DURATION : 3 * DURATION;
const LATENCY_DURATION = QUICK ? 1 : 2;
const CONNECTIONS = 32;
const EXACT_CLIENTS = 64;

/** A comma-separated list after `flag`, or `undefined` when the flag is absent. */
const listArg = (flag) => {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1].split(',') : undefined;
};
/**
 * `--scenario hot,latency` (or `--only`, its older name): only these scenarios (and `exactness` only if listed), and no
 * clean-up check; `--variants pass,rpc,exact`: only these variants. Either prints the samples and a summary and writes nothing.
 */
const ONLY = listArg('--scenario') ?? listArg('--only');
const ONLY_VARIANTS = listArg('--variants');
const PARTIAL = ONLY !== undefined || ONLY_VARIANTS !== undefined;
const VARIANTS = ['pass', 'norule', 'memory', 'rpc', 'rpcwrite', 'nowrite', 'exact', 'lease', 'concurrent', 'binding', 'peer'];
for (const v of ONLY_VARIANTS ?? [])
  if (!VARIANTS.includes(v)) throw new Error(`--variants: unknown variant ${v} (one of ${VARIANTS.join(', ')})`);
/** Variants measured for what they cost, not compared for exactness: the concurrency limit (a check and a release per request). */
const COST_ONLY = ['concurrent'];
/** Reference points (the middleware's fixed cost, a count in memory, bare object calls) only run on the hot key and for latency. */
const REFERENCES = ['norule', 'memory', 'rpc', 'rpcwrite'];
/** Exact mode with its object's row writes taken out (not a limiter: a restart would forget its counts), only on the hot key, where tail latency is measured. */
const HOT_ONLY = ['nowrite'];
const variantsOf = (scenario) => {
  if (scenario === 'hot') return VARIANTS;
  if (scenario === 'latency') return VARIANTS.filter((v) => !HOT_ONLY.includes(v));
  // The concurrency limit runs on the hot key, for latency and on warm keys (an object each, a write per request).
  const variants = VARIANTS.filter((v) => !HOT_ONLY.includes(v) && (scenario === 'warm' || !COST_ONLY.includes(v)));
  // Many keys get their own floors: an object per key, called bare or writing one row per call (for never-seen keys, a new object per request).
  if (scenario === 'fresh' || scenario === 'warm')
    return variants.filter((v) => !REFERENCES.includes(v) || v === 'rpc' || v === 'rpcwrite');
  return variants.filter((v) => !REFERENCES.includes(v));
};
const LIMITERS = VARIANTS.filter((v) => v !== 'pass' && !REFERENCES.includes(v) && !HOT_ONLY.includes(v) && !COST_ONLY.includes(v));
const LABELS = {
  pass: 'pass-through',
  norule: 'edge-ratelimit, no rule matches',
  memory: 'floor: a count in memory + headers',
  rpc: 'floor: one bare DO call',
  rpcwrite: 'floor: one DO call writing a row',
  nowrite: 'floor: exact, object never writes',
  exact: 'edge-ratelimit (exact)',
  lease: `edge-ratelimit (leases of ${LEASE_SIZE})`,
  concurrent: 'edge-ratelimit (exact + concurrency limit)',
  binding: 'Rate Limiting binding (local emulation)',
  peer: '@hono-rate-limiter/cloudflare DO store',
};
const SCENARIOS = {
  hot: 'allowed, one hot key',
  warm: 'allowed, 1,000 warm keys',
  fresh: 'allowed, never-seen keys',
  flood: `one key at 10× its limit: the refusals`,
  latency: 'one client, one hot key (latency)',
};
for (const s of ONLY ?? [])
  if (s !== 'exactness' && !(s in SCENARIOS))
    throw new Error(`--scenario: unknown scenario ${s} (one of ${[...Object.keys(SCENARIOS), 'exactness'].join(', ')})`);
/** Whether a variant is driven in this run (`--variants`). */
const driven = (variant) => !ONLY_VARIANTS || ONLY_VARIANTS.includes(variant);

// ---- processes and CPUs -------------------------------------------------------------------

const PIN = pinLoadGenerator();

// ---- keys -----------------------------------------------------------------------------------

let fresh = 0;
/** A client address never used before in this bench run. */
function freshIp() {
  fresh++;
  return `10.${(fresh >> 16) & 255}.${(fresh >> 8) & 255}.${fresh & 255}`;
}
const WARM = Array.from({ length: 1000 }, (_, i) => `172.16.${i >> 8}.${i & 255}`);
/** One of the warm addresses, at random. */
const warmIp = () => WARM[Math.floor(Math.random() * WARM.length)];

// ---- load -----------------------------------------------------------------------------------

/**
 * Drives `path` with `connections` clients for `duration` seconds or `amount`
 * requests; `ip()` gives each request's client address. Latencies are
 * recorded from autocannon's per-response times (fractional ms).
 */
async function load(url, { path, ip, connections = CONNECTIONS, duration, amount }) {
  const latencies = [];
  const instance = autocannon({
    url,
    connections,
    ...(amount ? { amount } : { duration }),
    requests: [{ method: 'GET', path, setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'cf-connecting-ip': ip() } }) }],
  });
  const started = performance.now();
  let last = started;
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    latencies.push(responseTime);
    last = performance.now();
  });
  const result = await instance;
  // autocannon ends runs on whole-second ticks: a run of a fixed number of requests is timed to its last response.
  const elapsed = (last - started) / 1000;
  latencies.sort((a, b) => a - b);
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]));
  const total = latencies.length;
  const seconds = elapsed;
  return {
    rps: total / seconds,
    requests: total,
    ...percentiles(latencies),
    statuses,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * The latency percentiles every variant reports, from sorted latencies (ms): the median and the tail, p99 and p99.9
 * (nearest rank: p99.9 of the 30,000 responses of a hot-key run is its 30th slowest).
 */
function percentiles(sorted) {
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return { p50: pct(50), p99: pct(99), p999: pct(99.9) };
}

/** Length of each side's turn in {@link alternating} runs (ms). */
const TURN_MS = 250;

/**
 * Drives two paths in turns of {@link TURN_MS} within one run of load:
 * pass-through (`base`) and a variant (`variant`), each `{ path, ip }`.
 * The machine's speed drifts within seconds, so both are measured in the
 * same seconds: each response is counted for the side that sent its request.
 * A side's throughput is what the server answered it in its turns once the
 * other side's last request in flight was answered (until then the server
 * still works for the other side), over that time. The first pair of turns
 * (connections opening) and a last incomplete pair are left out. GC pauses of workerd are split between the sides by the turn
 * they were read in (`server.pausesBetween`).
 */
async function alternating(server, { base, variant, connections = CONNECTIONS, duration }) {
  const sides = [base, variant];
  const per = sides.map(() => ({ latencies: [], statuses: {}, responses: 0, all: 0 }));
  let lastSide = 0;
  const started = performance.now();
  const turnOf = (t) => Math.floor((t - started) / TURN_MS);
  const instance = autocannon({
    url: server.url,
    connections,
    duration,
    requests: [
      {
        method: 'GET',
        setupRequest: (req, context) => {
          const side = turnOf(performance.now()) % 2;
          context.side = side;
          return { ...req, path: sides[side].path, headers: { ...req.headers, 'cf-connecting-ip': sides[side].ip() } };
        },
        onResponse: (status, _body, context) => {
          lastSide = context.side;
          const counts = per[lastSide].statuses;
          counts[status] = (counts[status] ?? 0) + 1;
          per[lastSide].all++;
        },
      },
    ],
  });
  const stamps = [];
  instance.on('response', (_client, _status, _bytes, responseTime) => stamps.push([performance.now(), lastSide, responseTime]));
  const result = await instance;
  const elapsed = performance.now() - started;
  // Whole pairs of turns, the first left out.
  const pairs = Math.floor(elapsed / (2 * TURN_MS));
  const from = started + 2 * TURN_MS;
  const to = started + pairs * 2 * TURN_MS;
  // A turn opens with the other side's requests still in flight: its throughput is counted from the last of those
  // responses to the end of the turn, when the server works for this side alone.
  const turns = 2 * pairs;
  const lastOther = new Array(turns).fill(-Infinity);
  for (const [at, side] of stamps) {
    const turn = turnOf(at);
    if (turn < turns && turn % 2 !== side) lastOther[turn] = Math.max(lastOther[turn], at);
  }
  const busyMs = [0, 0];
  for (let turn = 2; turn < turns; turn++)
    busyMs[turn % 2] += started + (turn + 1) * TURN_MS - Math.max(started + turn * TURN_MS, lastOther[turn]);
  for (const [at, side, responseTime] of stamps) {
    if (at < from || at >= to) continue;
    per[side].latencies.push(responseTime);
    const turn = turnOf(at);
    if (turn % 2 === side && at > lastOther[turn]) per[side].responses++;
  }
  const seconds = ((pairs - 1) * TURN_MS) / 1000;
  const gc = per.map(() => ({ full: 0, fullMs: 0, youngMs: 0, seconds }));
  for (const pause of server.pausesBetween(from, to)) {
    const g = gc[turnOf(pause.at) % 2];
    if (pause.full) {
      g.full++;
      g.fullMs += pause.ms;
    } else g.youngMs += pause.ms;
  }
  const summaryOf = (side) => {
    const { latencies, statuses, responses, all } = per[side];
    latencies.sort((a, b) => a - b);
    // `requests` and `statuses` count every response of the side (what the cost counters saw); throughput and latency the measured turns only.
    return { rps: (responses * 1000) / busyMs[side], requests: all, ...percentiles(latencies), statuses, gc: gc[side] };
  };
  return { base: summaryOf(0), variant: { ...summaryOf(1), errors: result.errors + result.timeouts }, turns: 2 * (pairs - 1) };
}

/** CPU time (user + system, ms) the process `pid` has used so far, from `/proc`; `undefined` where there is none. */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

const SLICE_MS = 250;

/**
 * The machine's steadiness: pass-through alone for `seconds`, its throughput
 * in slices of {@link SLICE_MS}, and the share of its core workerd used
 * meanwhile. With workerd busy throughout, what moves the throughput between
 * slices is the machine's speed, not the worker's work.
 */
async function steadiness(url, pid, seconds) {
  const stamps = [];
  const cpuBefore = cpuMs(pid);
  const instance = autocannon({
    url: `${url}/pass/steadiness`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'cf-connecting-ip': '192.0.2.2' },
  });
  const started = performance.now();
  instance.on('response', () => stamps.push(performance.now() - started));
  await instance;
  const elapsed = performance.now() - started;
  const cpuAfter = cpuMs(pid);
  // Whole slices only, the first (connections opening) left out.
  const count = Math.floor(elapsed / SLICE_MS);
  const slices = new Array(count).fill(0);
  for (const t of stamps) if (t < count * SLICE_MS) slices[Math.floor(t / SLICE_MS)]++;
  const rps = slices.slice(1).map((n) => (n * 1000) / SLICE_MS);
  const sorted = [...rps].sort((a, b) => a - b);
  return {
    seconds,
    sliceMs: SLICE_MS,
    slicesRps: rps,
    minRps: sorted[0],
    medianRps: median(sorted),
    maxRps: sorted[sorted.length - 1],
    workerdCpuShare: cpuBefore === undefined || cpuAfter === undefined ? null : round((cpuAfter - cpuBefore) / elapsed, 3),
  };
}

/** The steadiness check as a sentence. */
function steadinessSentence(s) {
  if (!s) return '';
  const cpu = s.workerdCpuShare === null ? '' : `, while workerd used ${Math.round(s.workerdCpuShare * 100)} % of its core`;
  return `pass-through alone for ${s.seconds} s, in ${s.sliceMs} ms slices: ${Math.round(s.minRps)} to ${Math.round(s.maxRps)} req/s (median ${Math.round(s.medianRps)})${cpu}`;
}

async function stats(url, since = 0) {
  return (await fetch(`${url}/__bench/stats?since=${since}`)).json();
}
async function resetStats(url) {
  await fetch(`${url}/__bench/reset`, { method: 'POST' });
}
function costOf(_before, after, variant, requests) {
  if (variant === 'pass' || REFERENCES.includes(variant))
    return { doCalls: variant.startsWith('rpc') ? 1000 : 0, rowsWritten: variant === 'rpcwrite' ? 1000 : 0 };
  const c = after.counters[variant];
  return { doCalls: (c.doCalls / requests) * 1000, rowsWritten: (c.rowsWritten / requests) * 1000 };
}

/** Waits, if needed, so `seconds` fit before the current minute ends: counts of exactness runs must not straddle two windows. */
async function roomInWindow(seconds) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < seconds * 1000) await new Promise((r) => setTimeout(r, left + 50));
}

// ---- scenarios ------------------------------------------------------------------------------

/** Work a scenario needs before it is measured (not counted). */
let floodKey = '';
async function prepare(url, scenario, variant) {
  if (scenario === 'flood') {
    // Spend the key's limit first: the measured part of the flood is then all refusals.
    await roomInWindow(15);
    floodKey = freshIp();
    await load(url, { path: `${pathOf(variant)}/tight/flood`, ip: () => floodKey, amount: TIGHT_LIMIT });
    return;
  }
  if (scenario === 'fresh' && variant !== 'pass') {
    // New objects slow down the ones created next (their files, their eviction): every variant is measured after the
    // same burst of new objects, so none has the advantage of following a variant that created fewer.
    await load(url, { path: '/rpcwrite/per-key', ip: freshIp, duration: QUICK ? 0.5 : 1 });
    return;
  }
  if (scenario !== 'warm') return;
  // Warm keys are in steady use: each is seen twice in the seconds before the measurement, as a client sending on and on would be.
  let i = 0;
  await load(url, {
    path: variant === 'rpc' || variant === 'rpcwrite' ? `/${variant}/per-key` : `${pathOf(variant)}/open/warm`,
    ip: () => WARM[i++ % WARM.length],
    amount: 2 * WARM.length,
  });
}

/** The path prefix of a variant; `norule` is our middleware on a path no rule matches. */
const pathOf = (variant) => (variant === 'norule' ? '/exact/none' : `/${variant}`);

/** What a variant is driven with in a scenario: path, client addresses, connections and seconds of its own turns. */
function target(scenario, variant) {
  const base = pathOf(variant);
  const own = { connections: CONNECTIONS, duration: DURATION };
  if ((variant === 'rpc' || variant === 'rpcwrite') && (scenario === 'warm' || scenario === 'fresh'))
    return { ...own, path: `/${variant}/per-key`, ip: scenario === 'warm' ? warmIp : freshIp };
  if (REFERENCES.includes(variant))
    return {
      path: `${base}/x`,
      ip: () => '198.51.100.200',
      ...(scenario === 'latency'
        ? { connections: 1, duration: LATENCY_DURATION }
        : scenario === 'hot'
          ? { ...own, duration: HOT_DURATION }
          : own),
    };
  switch (scenario) {
    case 'hot': {
      const key = `198.51.100.${VARIANTS.indexOf(variant) + 1}`;
      return { ...own, duration: HOT_DURATION, path: `${base}/open/hot`, ip: () => key };
    }
    case 'warm':
      return { ...own, path: `${base}/open/warm`, ip: warmIp };
    case 'fresh':
      return { ...own, path: `${base}/open/fresh`, ip: freshIp };
    case 'flood':
      return { ...own, path: `${base}/tight/flood`, ip: () => floodKey };
    case 'latency': {
      const key = `198.51.100.${VARIANTS.indexOf(variant) + 101}`;
      return { path: `${base}/open/latency`, ip: () => key, connections: 1, duration: LATENCY_DURATION };
    }
    default:
      throw new Error(scenario);
  }
}

/**
 * Waits until the reservations our variant left on warm keys have settled
 * (each key's alarm writes its exact count once it has been quiet for eight
 * seconds, `SETTLE_MS` in src/durable-object/limit-rows.ts; the first check
 * comes eight seconds after the reservation and may find the key still busy,
 * the next sixteen seconds later), so those writes land in no other
 * variant's measurement; returns how many rows settling wrote.
 */
async function settled(url, after, variant) {
  await new Promise((r) => setTimeout(r, 25_000));
  return (await stats(url)).counters[variant].rowsWritten - after.counters[variant].rowsWritten;
}

/** What settling wrote after our variants' warm-key measurements (see {@link settled}), as a sentence; empty for results without it. */
function settledSentence(samples) {
  const of = (variant) =>
    samples.filter((s) => s.scenario === 'warm' && s.variant === variant && s.settled !== undefined).map((s) => s.settled);
  const exact = of('exact');
  const lease = of('lease');
  if (exact.length === 0 && lease.length === 0) return '';
  const text = (xs) => (xs.length === 0 ? 'n/a' : `${median(xs)} rows (${Math.min(...xs)}–${Math.max(...xs)})`);
  return ` Once a warm key has been quiet for eight seconds, its object's alarm writes its exact count once (unless the object was evicted first, keeping its reservation): after each of those measurements the run waits for that before driving the next variant, so no other figure carries it; it wrote ${text(exact)} for exact mode and ${text(lease)} for leases, per run, over ${WARM.length.toLocaleString('en')} keys, not counted in the table.`;
}

/** A variant in turns with pass-through (see {@link alternating}); each side gets the variant's seconds of turns. */
async function measure(server, scenario, variant) {
  const own = target(scenario, variant);
  const pass = target(scenario, 'pass');
  return alternating(server, { base: pass, variant: own, connections: own.connections, duration: 2 * own.duration });
}

/** `EXACT_CLIENTS` concurrent clients send 3 × L requests on one fresh key: exactly L must be admitted. */
async function exactness(url, variant) {
  await roomInWindow(10);
  const key = freshIp();
  const result = await load(url, { path: `/${variant}/tight/exact`, ip: () => key, connections: EXACT_CLIENTS, amount: 3 * TIGHT_LIMIT });
  return { admitted: result.statuses['200'] ?? 0, limit: TIGHT_LIMIT, requests: result.requests };
}

/** Rows and alarms left two windows after a burst over 200 keys on a 3 s window (10 s for the binding, its shortest period). */
async function cleanup(url) {
  const out = {};
  for (const variant of LIMITERS) {
    const window = variant === 'binding' ? 10_000 : 3_000;
    const keys = Array.from({ length: 200 }, freshIp);
    const mark = await stats(url);
    let i = 0;
    await load(url, { path: `/${variant}/short/cleanup`, ip: () => keys[i++], connections: 8, amount: keys.length });
    const lastUse = Date.now();
    const during = await stats(url, mark.objectSeq);
    await new Promise((r) => setTimeout(r, 2 * window + 250));
    const after = await stats(url, mark.objectSeq);
    // The binding keeps every key in one table: count the rows added since the mark.
    const alive = (s) =>
      variant === 'binding'
        ? { rows: s.counters.binding.rowsAlive - mark.counters.binding.rowsAlive, alarms: 0 }
        : variant === 'peer'
          ? s.live.peer
          : s.live.ours;
    const written = during.counters[variant].rowsWritten - mark.counters[variant].rowsWritten;
    out[variant] = {
      windowMs: window,
      keys: keys.length,
      rowsWritten: written,
      afterBurst: alive(during),
      afterTwoWindows: alive(after),
      waitedMs: Date.now() - lastUse,
    };
  }
  return out;
}

// ---- statistics -----------------------------------------------------------------------------

const spread = (xs) => [Math.min(...xs), Math.max(...xs)];
/** A ratio to pass-through as printed: two decimals, three below 0.1 (never-seen keys), where two would blur the variants. */
export const ratioText = (x) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(x < 0.1 ? 3 : 2));
const round = (x, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

function summarise(samples) {
  const out = {};
  for (const scenario of Object.keys(SCENARIOS)) {
    out[scenario] = {};
    for (const variant of variantsOf(scenario)) {
      const runs = samples.filter((s) => s.scenario === scenario && s.variant === variant);
      if (runs.length === 0) continue;
      const ratios = runs.map((s) => (s.pass ? s.rps / s.pass.rps : 1));
      const added = runs.map((s) => (s.pass ? s.p50 - s.pass.p50 : 0));
      out[scenario][variant] = {
        rps: round(median(runs.map((s) => s.rps)), 0),
        ratio: round(median(ratios), 3),
        ratioSpread: spread(ratios).map((x) => round(x, 3)),
        p50Ms: round(median(runs.map((s) => s.p50)), 3),
        p99Ms: round(median(runs.map((s) => s.p99)), 3),
        p99Spread: spread(runs.map((s) => s.p99)).map((x) => round(x, 3)),
        p999Ms: round(median(runs.map((s) => s.p999)), 3),
        p999Spread: spread(runs.map((s) => s.p999)).map((x) => round(x, 3)),
        p50AddedMs: round(median(added), 3),
        doCallsPer1k: round(median(runs.map((s) => s.cost.doCalls)), 1),
        rowsWrittenPer1k: round(median(runs.map((s) => s.cost.rowsWritten)), 1),
        gcMsPerS: round(median(runs.map((s) => (s.gc.fullMs + s.gc.youngMs) / s.gc.seconds)), 1),
        fullGcs: runs.reduce((n, s) => n + s.gc.full, 0),
        admitted: scenario === 'flood' ? runs.map((s) => s.statuses['200'] ?? 0) : undefined,
        errors: runs.reduce((n, s) => n + s.errors, 0),
      };
    }
  }
  return out;
}

function machine() {
  const lscpu = (() => {
    try {
      return execFileSync('lscpu', { encoding: 'utf8' });
    } catch {
      return '';
    }
  })();
  const workerd = (() => {
    try {
      return execFileSync(join(ROOT, 'node_modules', '.bin', 'workerd'), ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  return {
    cpu: lscpu.match(/Model name:\s*(.+)/)?.[1]?.trim() ?? cpus()[0]?.model,
    nproc: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGiB: round(freemem() / 2 ** 30, 1),
    node: process.version,
    workerd,
    autocannon: JSON.parse(readFileSync(join(ROOT, 'node_modules', 'autocannon', 'package.json'), 'utf8')).version,
    pinned: PIN ? 'workerd on CPU 0, load generator on CPU 1 (taskset)' : 'not pinned',
    loadavgAtStart: execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim(),
  };
}

// ---- report ---------------------------------------------------------------------------------

function table(summary, exact, cleanupResult) {
  const lines = [];
  const pad = (s, n) => String(s).padEnd(n);
  const padl = (s, n) => String(s).padStart(n);
  lines.push(
    `${pad('scenario', 34)}${pad('variant', 42)}${padl('req/s', 8)}${padl('× pass', 8)}${padl('spread', 13)}${padl('p50 ms', 8)}${padl('p99 ms', 8)}${padl('p99.9 ms', 9)}${padl('DO/1k', 8)}${padl('rows/1k', 9)}${padl('GC ms/s', 9)}`,
  );
  for (const [scenario, title] of Object.entries(SCENARIOS)) {
    for (const variant of variantsOf(scenario)) {
      const r = summary[scenario][variant];
      if (!r) continue;
      lines.push(
        `${pad(variant === 'pass' ? title : '', 34)}${pad(LABELS[variant], 42)}${padl(r.rps, 8)}${padl(ratioText(r.ratio), 8)}${padl(`${ratioText(r.ratioSpread[0])}–${ratioText(r.ratioSpread[1])}`, 13)}${padl(r.p50Ms.toFixed(2), 8)}${padl(r.p99Ms.toFixed(2), 8)}${padl(Number.isFinite(r.p999Ms) ? r.p999Ms.toFixed(2) : 'n/a', 9)}${padl(r.doCallsPer1k, 8)}${padl(r.rowsWrittenPer1k, 9)}${padl(r.gcMsPerS ?? 'n/a', 9)}`,
      );
    }
  }
  lines.push('');
  lines.push(
    `exactness: ${EXACT_CLIENTS} concurrent clients, ${3 * TIGHT_LIMIT} requests, one key, limit ${TIGHT_LIMIT}/min: admitted per run`,
  );
  for (const variant of LIMITERS) lines.push(`  ${pad(LABELS[variant], 42)} ${exact[variant].map((e) => e.admitted).join(', ')}`);
  lines.push('');
  lines.push('storage: 200 new keys, rows written, then rows / alarms left two windows after their last use');
  for (const variant of LIMITERS) {
    const c = cleanupResult[variant];
    lines.push(
      `  ${pad(LABELS[variant], 42)} ${padl(c.rowsWritten, 4)} written  →  ${c.afterTwoWindows.rows} rows / ${c.afterTwoWindows.alarms} alarms left  (window ${c.windowMs / 1000}s)`,
    );
  }
  return lines.join('\n');
}

/** A variant's latency percentile `key` (`p99`, `p999`) over the bare object call's in the same run, one ratio per run. */
function overBareCall(samples, scenario, variant, key) {
  const ratios = [];
  for (const s of samples.filter((x) => x.scenario === scenario && x.variant === variant && x.pass)) {
    const rpc = samples.find((x) => x.scenario === scenario && x.variant === 'rpc' && x.run === s.run);
    if (rpc) ratios.push(s[key] / rpc[key]);
  }
  return ratios;
}

/**
 * The summary of a partial run (`--scenario`, `--variants`): per variant, throughput as × pass-through and the latency
 * percentiles, each as the median over runs with min–max; and, where the bare object call ran, each run's p99 and p99.9
 * over that call's in the same run (median, min–max): the machine's speed moves between runs, so only ratios within a
 * run compare variants.
 */
function partialTable(samples, summary) {
  const range = (median, [lo, hi]) => `${median.toFixed(2)} (${lo.toFixed(2)}–${hi.toFixed(2)})`;
  const lines = [
    `${'scenario'.padEnd(10)}${'variant'.padEnd(10)}${'× pass (min–max)'.padStart(20)}${'p50 ms'.padStart(10)}${'p99 ms (min–max)'.padStart(26)}${'p99.9 ms (min–max)'.padStart(28)}${'p99 / rpc (min–max)'.padStart(24)}${'p99.9 / rpc (min–max)'.padStart(26)}${'rows/1k'.padStart(9)}`,
  ];
  for (const scenario of Object.keys(summary))
    for (const [variant, r] of Object.entries(summary[scenario])) {
      const overRpc = (key) => {
        const ratios = overBareCall(samples, scenario, variant, key);
        return ratios.length === 0 ? 'n/a' : range(median(ratios), spread(ratios));
      };
      lines.push(
        `${scenario.padEnd(10)}${variant.padEnd(10)}${range(r.ratio, r.ratioSpread).padStart(20)}${r.p50Ms.toFixed(2).padStart(10)}${range(r.p99Ms, r.p99Spread).padStart(26)}${range(r.p999Ms, r.p999Spread).padStart(28)}${overRpc('p99').padStart(24)}${overRpc('p999').padStart(26)}${String(r.rowsWrittenPer1k).padStart(9)}`,
      );
    }
  return lines.join('\n');
}

/** Each goal of the benchmark with the figure reached in this run. */
function goals(summary, exact, perRefusal, cleanupResult, samples) {
  const f = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(2));
  const out = [];
  const add = (goal, figure, met) => out.push({ goal, figure, met });
  add('exact mode, hot key: ≥ 0.5× pass-through throughput', `${ratioText(summary.hot.exact.ratio)}×`, summary.hot.exact.ratio >= 0.5);
  const tail = overBareCall(samples, 'hot', 'exact', 'p99');
  add(
    "exact mode, hot key, 32 connections: p99 ≤ 2× a bare object call's p99 (same run)",
    tail.length === 0
      ? 'n/a'
      : `${median(tail).toFixed(2)}× (runs ${Math.min(...tail).toFixed(2)}–${Math.max(...tail).toFixed(2)}×): ${fmt(summary.hot.exact.p99Ms, 1)} ms against ${fmt(summary.hot.rpc.p99Ms, 1)} ms`,
    tail.length > 0 && median(tail) <= 2,
  );
  add(
    'exact mode: p50 latency added ≤ 0.5 ms (one client)',
    `+${f(summary.latency.exact.p50AddedMs)} ms`,
    summary.latency.exact.p50AddedMs <= 0.5,
  );
  add('leases, hot key: ≥ 0.9× pass-through throughput', `${ratioText(summary.hot.lease.ratio)}×`, summary.hot.lease.ratio >= 0.9);
  add(
    'leases ahead of the Rate Limiting binding (hot key)',
    `${ratioText(summary.hot.lease.ratio)}× vs ${ratioText(summary.hot.binding.ratio)}×`,
    summary.hot.lease.ratio > summary.hot.binding.ratio,
  );
  for (const v of ['exact', 'lease']) {
    add(`flood of refusals (${v}): ≥ 1.0× pass-through`, `${ratioText(summary.flood[v].ratio)}×`, summary.flood[v].ratio >= 1);
    add(`flood of refusals (${v}): ≤ 0.01 object calls per refusal`, `${perRefusal[v]}`, perRefusal[v] <= 0.01);
    const admitted = exact[v].map((e) => e.admitted);
    add(
      `exactness (${v}): exactly ${TIGHT_LIMIT} admitted every run`,
      admitted.join(', '),
      admitted.every((a) => a === TIGHT_LIMIT),
    );
  }
  for (const scenario of Object.keys(SCENARIOS)) {
    const ours = summary[scenario].exact.ratio;
    const peer = summary[scenario].peer.ratio;
    add(`ahead of the npm DO peer: ${SCENARIOS[scenario]} (exact mode)`, `${ratioText(ours)}× vs ${ratioText(peer)}×`, ours > peer);
  }
  for (const v of ['exact', 'lease']) {
    const c = cleanupResult[v].afterTwoWindows;
    add(
      `storage (${v}): rows and alarms gone two windows after last use`,
      `${c.rows} rows, ${c.alarms} alarms left of ${cleanupResult[v].rowsWritten} rows written`,
      c.rows === 0 && c.alarms === 0 && cleanupResult[v].rowsWritten > 0,
    );
  }
  return out;
}

/** The run's full garbage collections as a sentence, from the totals `startServer` counted. */
function gcSentence(gc) {
  if (!gc || gc.full === 0) return 'No full collection was traced in this run.';
  return `This run traced (\`--trace-gc\`) ${gc.full} full collections, ${fmt(gc.fullMs / gc.full, 0)} ms each on average and up to ${fmt(gc.fullMaxMs, 0)} ms.`;
}

const fmt = (x, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

function resultsReadme(results, text) {
  const m = results.machine;
  const goalLines = results.goals.map((g) => `| ${g.goal} | ${g.figure} | ${g.met ? 'yes' : '**no**'} |`).join('\n');
  return `# Benchmark results

Written by \`npm run bench\`${results.quick ? ' --quick' : ''} on ${results.date}; raw figures in [results.json](results.json), the chart in [chart.svg](chart.svg).

![throughput and latency per variant](chart.svg)

## Machine

| | |
| --- | --- |
| CPU | ${m.cpu}, ${m.nproc} cores (\`nproc\`) |
| memory | ${m.memoryGiB} GiB (${m.freeMemoryGiB} GiB free at start) |
| Node.js | ${m.node} |
| workerd | ${m.workerd} |
| autocannon | ${m.autocannon} |
| pinning | ${m.pinned} |
| load average at start | ${m.loadavgAtStart} |
| runs | ${results.runs} × ${results.durationSeconds} s of turns per variant (${results.hotDurationSeconds ?? results.durationSeconds} s on the hot key) and as many of pass-through's, ${results.connections} connections; ${results.benchSeconds} s in all |

The machine is shared: other work on the same cores moves absolute figures between runs, and its speed drifts within seconds${results.steadiness ? ` (${steadinessSentence(results.steadiness)})` : ''}, so every figure that matters is a ratio to pass-through measured in the same seconds: each variant is driven in turns of ${TURN_MS} ms with pass-through within one run of load, and compared with the pass-through of its own run.

## Table

\`\`\`
${text}
\`\`\`

## Goals

| goal | reached | met |
| --- | --- | --- |
${goalLines}

## Limits of this runtime

- One Durable Object call that does nothing, the least any design asking an object per request costs, adds ${fmt(results.summary.latency.rpc?.p50AddedMs)} ms at p50 for one client here and allows ${ratioText(results.summary.hot.rpc?.ratio)}× pass-through on a hot key. One that writes one row adds ${fmt(results.summary.latency.rpcwrite?.p50AddedMs)} ms and allows ${ratioText(results.summary.hot.rpcwrite?.ratio)}× (storage does not rewrite an unchanged value, so it writes a value that changes every time, as a count does): that is what a design writing each request's count pays. Exact mode writes a row only when the reservation in storage no longer covers the count, here once per ${fmt(1000 / results.summary.hot.exact?.rowsWrittenPer1k, 0)} requests on the hot key, so its floor is the bare call; what separates it from that floor is the middleware's own work and the request and answer it passes the object.
- The middleware alone, on a path no rule matches (request view, no object call), runs at ${ratioText(results.summary.hot.norule?.ratio)}× pass-through: the fixed cost every request pays before any rule is evaluated; leases add the rule's evaluation and the rate-limit headers on top. The origin here is an in-process worker, the cheapest possible, so every added microsecond shows; behind a real origin the same work is a smaller share.
- The least any limiter that answers with rate-limit headers can do, counting in a Map of the isolate and adding the two IETF headers (no policy, no request view, nothing shared between isolates), runs at ${ratioText(results.summary.hot.memory?.ratio)}× pass-through on the hot key: that is the ceiling for leases on this runtime, whatever their design.
- Garbage collection: workerd runs on one pinned core, so V8 cannot collect on other cores. ${gcSentence(results.gc)} The *GC ms/s* column gives each variant's collection time per second of load; it follows allocation per request. The p99 column does not follow it closely (pass-through keeps a low p99 with collection times like the others'), so collection alone does not explain the p99 of the limiter variants.
- Tail latency on the hot key (32 connections): p99 / p99.9 ${fmt(results.summary.hot.pass?.p99Ms, 1)} / ${fmt(results.summary.hot.pass?.p999Ms, 1)} ms for pass-through, ${fmt(results.summary.hot.rpc?.p99Ms, 1)} / ${fmt(results.summary.hot.rpc?.p999Ms, 1)} ms for a bare object call, ${fmt(results.summary.hot.nowrite?.p99Ms, 1)} / ${fmt(results.summary.hot.nowrite?.p999Ms, 1)} ms for exact mode whose object never writes, ${fmt(results.summary.hot.exact?.p99Ms, 1)} / ${fmt(results.summary.hot.exact?.p999Ms, 1)} ms for exact mode (${fmt(results.summary.hot.exact?.rowsWrittenPer1k, 2)} rows written per 1,000 requests) and ${fmt(results.summary.hot.lease?.p99Ms, 1)} / ${fmt(results.summary.hot.lease?.p999Ms, 1)} ms for leases (medians over runs). Until storage confirms a write, an object holds every answer it sends, so each write makes the requests in flight wait for it; the variant that never writes separates that from the rest of exact mode's path.
- Over many keys, an object per key writing a row per request runs at ${ratioText(results.summary.warm.rpcwrite?.ratio)}× on warm keys: every write is its own SQLite commit in its own file. The npm peer sits at that floor. Exact mode reserves ahead on a key that comes back within six seconds, so a key in steady use costs a call but seldom a write: its floor there is a bare call to each key's own object, ${ratioText(results.summary.warm.rpc?.ratio)}× in this run.${settledSentence(results.samples)}
- A never-seen key costs a new object with its own SQLite file on local disk: one call to a new object that does nothing runs at ${ratioText(results.summary.fresh.rpc?.ratio)}× here, one that writes a row at ${ratioText(results.summary.fresh.rpcwrite?.ratio)}×. Creating the object is the floor of any design with an object per key, whatever it stores; a limiter that cleans up after itself also sets an alarm on it. The binding's emulation keeps all keys in one object's table, so it does not pay that.

## How to read it

- **Variants.** *pass-through*: the same worker bundle forwarding without any limiter, the ceiling. *no rule matches*: the edge-ratelimit middleware on a path no rule matches, its fixed cost per request (request view: URL, path normalisation, client address). *floor: one bare DO call* / *one DO call writing a row*: pass-through after a Durable Object round trip that does nothing / writes one row: the least any design that asks an object per request can cost here, and the least one that also writes each request's count can. For warm keys both floors call each key's own object, and for never-seen keys a new object per request, as any design with one object per key must. *floor: exact, object never writes* (hot key only): exact mode with its object's row writes taken out, everything else unchanged; what exact mode's latency would be if its writes cost nothing (it is no limiter: a restart would forget its counts). *exact*: every request decided by its key's Durable Object, one call per request (the default; coalescing of concurrent calls is opt-in and not measured here); a hot key's object writes a few units ahead, so most calls write nothing. *leases*: the same limit with \`lease: { size: ${results.leaseSize}, ttl: '1s' }\`. *Rate Limiting binding*: \`env.RL.limit({ key })\` as wrangler dev runs it locally (miniflare's binding module in front of one SQLite-backed object for all keys); in production the binding runs on in-colo counters that cannot run here, so this is its local stand-in, not its production speed. *npm DO peer*: \`hono-rate-limiter\` with \`@hono-rate-limiter/cloudflare\`'s \`DurableObjectStore\` (one object per key, async storage API).
- **Scenarios.** *hot*: one client address, a limit never reached (a one-hour window, so that clean-up alarms of the thousands of keys created do not fire during later measurements; the binding's longest period is a minute). *warm*: 1,000 addresses in steady use, picked at random; each was seen twice in the seconds before the measurement (not counted), as the addresses of clients that keep sending are. *never-seen*: a new address per request, so a new object per request; each variant is measured right after the same one-second burst of new objects (not counted), since new objects slow down the ones created after them and the variants would otherwise differ by what ran before them. *flood*: a key that has spent its ${results.tightLimit}-per-minute limit keeps sending for the measurement's duration, inside the same minute (far more than 10× its limit); every measured request is a refusal. *latency*: one client, one request at a time.
- **Columns.** *× pass*: requests per second in the variant's turns over requests per second in pass-through's turns of the same run (median of the per-run ratios, so not always the ratio of the req/s medians; *spread* is min–max); pass-through's own row gives the median of all its turns' figures. Each response counts for the side whose turn sent its request; a side's throughput counts, in each of its turns, from the last response to the other side's requests still in flight (until then the server works for the other side) to the turn's end; the first pair of turns (connections opening) is left out. *p50/p99/p99.9*: latency under that scenario's load, from per-response times (nearest rank; medians over runs; the spreads are in results.json). *DO/1k*: Durable Object calls per 1,000 requests; *rows/1k*: storage rows written per 1,000 requests (Cloudflare bills both). *GC ms/s*: garbage-collection pauses in workerd's isolates (V8's \`--trace-gc\`) per second of the variant's turns (a pause counts for the turn it was traced in).
- **Exactness.** ${EXACT_CLIENTS} concurrent clients send ${3 * results.tightLimit} requests on one new key with limit ${results.tightLimit}; the number admitted must equal the limit.
- **Storage.** 200 new keys on a three-second window (ten seconds for the binding, its shortest period): the rows written for them, and the rows and alarms left two windows after their last use.
- **Where it runs.** The worker bundle is built with \`wrangler deploy --dry-run\` and served by \`workerd serve\` directly (no wrangler dev proxy), with SQLite-backed Durable Objects on local disk, the origin as a second workerd service (the worker's global outbound), workerd pinned to CPU 0 and the load generator to CPU 1.
`;
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  if (RENDER) return render();
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'edge-ratelimit-bench-'));
  console.log(`building the bench bundle (wrangler deploy --dry-run) in ${dir}`);
  build(dir);
  const server = await startServer({ dir, cpu: 0, tightLimit: TIGHT_LIMIT, pin: PIN });
  const samples = [];
  const exact = Object.fromEntries(LIMITERS.map((v) => [v, []]));
  let cleanupResult;
  let events = {};
  let gcTotal;
  let steady;
  const info = machine();
  try {
    console.log(
      `workerd on ${server.url}; ${PIN ? 'pinned' : 'not pinned'}; ${RUNS} run(s) of ${DURATION}s of turns per variant, as many of pass-through's`,
    );
    // Warm-up: JIT, objects, connections.
    for (const variant of VARIANTS.filter(driven))
      await load(server.url, { path: `${pathOf(variant)}/open/warmup`, ip: () => '192.0.2.1', duration: QUICK ? 0.5 : 1 });
    steady = await steadiness(server.url, server.pid, QUICK || PARTIAL ? 4 : 10);
    console.log(`steadiness: ${steadinessSentence(steady)}`);

    for (let run = 0; run < RUNS; run++) {
      for (const scenario of Object.keys(SCENARIOS).filter((s) => !ONLY || ONLY.includes(s))) {
        // Rotate the order each run so no variant always goes first.
        const variants = variantsOf(scenario).filter((v) => !ONLY_VARIANTS || v === 'pass' || ONLY_VARIANTS.includes(v));
        const order = variants.map((_, i) => variants[(i + run) % variants.length]);
        // The machine's speed drifts within seconds: each variant is driven in turns with pass-through, and
        // compared with the pass-through of the same run (see `alternating`).
        for (const variant of order.filter((v) => v !== 'pass' && driven(v))) {
          await prepare(server.url, scenario, variant);
          await resetStats(server.url);
          const before = await stats(server.url);
          const result = await measure(server, scenario, variant);
          const after = await stats(server.url);
          const pass = {
            run,
            scenario,
            variant: 'pass',
            ...result.base,
            errors: 0,
            cost: costOf(before, after, 'pass', result.base.requests),
          };
          const sample = {
            run,
            scenario,
            variant,
            ...result.variant,
            turns: result.turns,
            cost: costOf(before, after, variant, result.variant.requests),
            pass: { rps: result.base.rps, p50: result.base.p50, p99: result.base.p99, p999: result.base.p999 },
          };
          if (scenario === 'warm' && (variant === 'exact' || variant === 'lease'))
            sample.settled = await settled(server.url, after, variant);
          samples.push(pass, sample);
          process.stdout.write(
            `  run ${run + 1} ${scenario.padEnd(8)} ${variant.padEnd(8)} ${Math.round(sample.rps)} req/s  p50 ${sample.p50.toFixed(2)} ms; pass-through in its turns ${Math.round(pass.rps)} req/s: ${(sample.rps / pass.rps).toFixed(2)}×\n`,
          );
        }
      }
      if (!ONLY || ONLY.includes('exactness'))
        for (const variant of LIMITERS.filter(driven)) exact[variant].push(await exactness(server.url, variant));
    }
    if (PARTIAL) {
      for (const s of samples)
        if (s.pass)
          console.log(
            s.scenario,
            s.variant,
            Math.round(s.rps),
            (s.rps / s.pass.rps).toFixed(2),
            s.p50.toFixed(3),
            s.p99.toFixed(1),
            s.p999.toFixed(1),
            JSON.stringify(s.cost),
            s.settled === undefined ? '' : `settled ${s.settled} rows`,
            `GC ${((s.gc.fullMs + s.gc.youngMs) / s.gc.seconds).toFixed(1)} ms/s, ${s.gc.full} full`,
          );
      console.log(`\n${partialTable(samples, summarise(samples))}`);
      for (const [variant, runs] of Object.entries(exact))
        if (runs.length > 0)
          console.log(`exactness ${variant}: admitted ${runs.map((e) => e.admitted).join(', ')} of limit ${TIGHT_LIMIT}`);
      return;
    }
    console.log('  storage clean-up …');
    cleanupResult = await cleanup(server.url);
    events = server.events();
    gcTotal = server.gc();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const summary = summarise(samples);
  const floodRefusals = Object.fromEntries(
    LIMITERS.map((v) => {
      const runs = samples.filter((s) => s.scenario === 'flood' && s.variant === v);
      return [
        v,
        round(median(runs.map((s) => ((s.cost.doCalls / 1000) * s.requests) / Math.max(1, s.requests - (s.statuses['200'] ?? 0)))), 4),
      ];
    }),
  );
  const text = table(summary, exact, cleanupResult);
  const goalList = goals(summary, exact, floodRefusals, cleanupResult, samples);
  const faults = (events.fail_open ?? 0) + (events.fail_closed ?? 0);
  goalList.push({
    goal: 'no request failed open or closed during the run (logged events)',
    figure: JSON.stringify(events),
    met: faults === 0,
  });
  console.log(`\n${text}\n`);
  console.log('DO calls per refused request in the flood:', floodRefusals);

  mkdirSync(RESULTS, { recursive: true });
  const results = {
    date: new Date().toISOString(),
    quick: QUICK,
    runs: RUNS,
    durationSeconds: DURATION,
    hotDurationSeconds: HOT_DURATION,
    connections: CONNECTIONS,
    tightLimit: TIGHT_LIMIT,
    leaseSize: LEASE_SIZE,
    machine: info,
    labels: LABELS,
    scenarios: SCENARIOS,
    summary,
    doCallsPerRefusal: floodRefusals,
    exactness: exact,
    cleanup: cleanupResult,
    goals: goalList,
    events,
    gc: gcTotal,
    steadiness: steady,
    samples,
    benchSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(join(RESULTS, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS, 'results.txt'), `${text}\n`);
  writeFileSync(join(RESULTS, 'chart.svg'), chart(results));
  writeFileSync(join(RESULTS, 'README.md'), resultsReadme(results, text));
  for (const g of goalList) console.log(`${g.met ? 'met ' : 'MISS'}  ${g.goal}: ${g.figure}`);
  console.log(`wrote bench/results/results.json, results.txt, chart.svg and README.md in ${results.benchSeconds}s`);
}

function render() {
  const results = JSON.parse(readFileSync(join(RESULTS, 'results.json'), 'utf8'));
  const text = readFileSync(join(RESULTS, 'results.txt'), 'utf8').trimEnd();
  writeFileSync(join(RESULTS, 'chart.svg'), chart(results));
  writeFileSync(join(RESULTS, 'README.md'), resultsReadme(results, text));
  console.log('rewrote bench/results/README.md and chart.svg from results.json');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
