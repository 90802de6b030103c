// Builds the benchmark worker bundle with `wrangler deploy --dry-run` and
// runs it under `workerd serve` with a generated configuration: the worker,
// an origin service (its global outbound), the Rate Limiting binding's local
// emulation, and SQLite-backed Durable Object storage on disk.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../scripts/wrangler-dev.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const WORKERD = join(ROOT, 'node_modules', '.bin', 'workerd');
const RATELIMIT_BINDING = join(ROOT, 'node_modules', 'miniflare', 'dist', 'src', 'workers', 'ratelimit', 'ratelimit.worker.js');

function hasStdbuf() {
  try {
    execFileSync('stdbuf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins this process (the load generator) to CPU 1 when there are two cores
 * and `taskset`, so that workerd can have CPU 0 (`startServer({ pin: true })`).
 * Returns whether it did.
 */
export function pinLoadGenerator() {
  if (cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Bundles bench/worker.ts (and the limiter it imports from src/) into `dir/build/worker.js`. */
export function build(dir) {
  const out = join(dir, 'build');
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'),
      'deploy',
      '--dry-run',
      '--outdir',
      out,
      '--config',
      join(ROOT, 'bench', 'wrangler.toml'),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    },
  );
  return join(out, 'worker.js');
}

/** The workerd configuration (Cap'n Proto text). */
function config({ port, tightLimit }) {
  const rateLimitBinding = (name, limit, period) =>
    `(name = "${name}", wrapped = (moduleName = "bench-internal:ratelimit", innerBindings = [(name = "fetcher", service = "ratelimit"), (name = "limit", json = "${limit}"), (name = "period", json = "${period}")]))`;
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  v8Flags = ["--trace-gc"],
  services = [
    (name = "main", worker = .mainWorker),
    (name = "origin", worker = .originWorker),
    (name = "ratelimit", worker = .rateLimitWorker),
    (name = "objects", disk = (path = "objects", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
  extensions = [(modules = [(name = "bench-internal:ratelimit", esModule = embed "ratelimit-binding.js", internal = true)])],
);

const mainWorker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "build/worker.js")],
  compatibilityDate = "2026-11-01",

  bindings = [
    (name = "RATE_LIMITER", durableObjectNamespace = "BenchRateLimiter"),
    (name = "PEER", durableObjectNamespace = "BenchPeerLimiter"),
    ${rateLimitBinding('RL_OPEN', 1_000_000_000, 60)},
    ${rateLimitBinding('RL_TIGHT', tightLimit, 60)},
    ${rateLimitBinding('RL_SHORT', tightLimit, 10)},
    (name = "RL_STATS", service = "ratelimit"),
    (name = "ORIGIN_URL", text = "http://origin.bench"),
  ],
  durableObjectNamespaces = [
    (className = "BenchRateLimiter", uniqueKey = "bench-rate-limiter", enableSql = true),
    (className = "BenchPeerLimiter", uniqueKey = "bench-peer-limiter", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "objects"),
  globalOutbound = "origin",
);

const originWorker :Workerd.Worker = (
  modules = [(name = "origin.js", esModule = embed "origin.js")],
  compatibilityDate = "2026-11-01",
);

const rateLimitWorker :Workerd.Worker = (
  modules = [(name = "ratelimit-emulation.js", esModule = embed "ratelimit-emulation.js")],
  compatibilityDate = "2026-11-01",
  bindings = [(name = "OBJECT", durableObjectNamespace = "RateLimiterObject")],
  durableObjectNamespaces = [(className = "RateLimiterObject", uniqueKey = "bench-ratelimit-binding", enableSql = true)],
  durableObjectStorage = (localDisk = "objects"),
);
`;
}

/**
 * Starts workerd on `cpu` (when `taskset` exists) and resolves once it
 * answers; `stop()` ends it.
 */
export async function startServer({ dir, cpu, tightLimit, pin, inspectorPort }) {
  mkdirSync(join(dir, 'objects'), { recursive: true });
  copyFileSync(join(ROOT, 'bench', 'origin.js'), join(dir, 'origin.js'));
  copyFileSync(join(ROOT, 'bench', 'ratelimit-emulation.js'), join(dir, 'ratelimit-emulation.js'));
  copyFileSync(RATELIMIT_BINDING, join(dir, 'ratelimit-binding.js'));
  const port = await freePort();
  writeFileSync(join(dir, 'config.capnp'), config({ port, tightLimit }));
  // Line-buffered output (coreutils' stdbuf), so each traced collection is read during the measurement it happened in.
  const prefix = [...(pin ? ['taskset', '-c', String(cpu)] : []), ...(hasStdbuf() ? ['stdbuf', '-oL'] : [])];
  const [command, ...args] = [
    ...prefix,
    WORKERD,
    'serve',
    'config.capnp',
    ...(inspectorPort ? [`--inspector-addr=127.0.0.1:${inspectorPort}`] : []),
  ];
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // The limiter logs one JSON line per event; faults (fail_open, fail_closed) must not happen in a benchmark.
  const events = {};
  // V8 traces each garbage collection of workerd's isolates (--trace-gc): pauses of full (mark-compact) and young-generation collections.
  const gc = { full: 0, fullMs: 0, fullMaxMs: 0, youngMs: 0 };
  /** Each pause as it was read (`performance.now()` of this process; the output is line-buffered), so a measurement can tell which of its turns it fell in. */
  const pauses = [];
  let partial = '';
  child.stdout.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const collection = /^\[\d+:(0x[0-9a-f]+)\].*?ms: (Mark-Compact|Scavenge|Minor Mark-Sweep)\b.*?, ([\d.]+) \/ [\d.]+ ms/.exec(line);
      if (collection) {
        const pause = Number(collection[3]);
        pauses.push({ at: performance.now(), isolate: collection[1], full: collection[2] === 'Mark-Compact', ms: pause });
        if (pauses.length > 100_000) pauses.splice(0, 50_000);
        if (collection[2] === 'Mark-Compact') {
          gc.full++;
          gc.fullMs += pause;
          gc.fullMaxMs = Math.max(gc.fullMaxMs, pause);
        } else gc.youngMs += pause;
        continue;
      }
      const event = /"event":"([a-z_]+)"/.exec(line)?.[1];
      if (event) events[event] = (events[event] ?? 0) + 1;
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const exited = new Promise((done) => child.once('exit', (code) => done(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}):\n${stderr}`);
    try {
      const response = await fetch(`${url}/pass/ready`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`workerd did not answer within 20s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    /** workerd's own process (taskset and stdbuf exec it in place). */
    pid: child.pid,
    stderr: () => stderr,
    events: () => ({ ...events }),
    /** Garbage-collection pauses so far: full collections, their total and longest pause, and young-generation pause time (ms). */
    gc: () => ({ ...gc }),
    /** The pauses read between `from` and `to` (`performance.now()` of this process), each with the isolate it stopped (V8's address of it). */
    pausesBetween: (from, to) => pauses.filter((p) => p.at >= from && p.at < to),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
