// `npm run bench:tail [-- --variants pass,garbage,rpc,rpcgarbage,count,exact,lease] [-- --rounds 5] [-- --seconds 5] [-- --detail]`:
// where the slow responses of the hot key come from. Each variant is driven alone with 32 connections,
// as in `npm run bench`, while one more client asks pass-through one request at a time (the sentinel).
// Slow responses (over 30 ms and 3× the run's median) that end within 10 ms of each other form a
// stall; a stall that holds most connections at once, and the sentinel on another path with them,
// is the whole process stopping, not the variant's own work. Beside each run: workerd's garbage-
// collection pauses in the same seconds, and the JavaScript each variant allocates per request
// (V8's sampling heap profiler over the inspector, objects collected since included).
// Writes bench/results/tail.md and tail.json.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../scripts/wrangler-dev.mjs';
import { numberOption } from './options.mjs';
import { build, pinLoadGenerator, startServer } from './server.mjs';
import { median } from './stats.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results');
const { tightLimit: TIGHT_LIMIT } = JSON.parse(readFileSync(join(ROOT, 'bench', 'limits.json'), 'utf8'));
const CONNECTIONS = 32;
const ROUNDS = numberOption('--rounds', 5);
const SECONDS = numberOption('--seconds', 5);
const SAMPLED_REQUESTS = numberOption('--sampled', 20_000);
/** `--detail`: also print the functions that allocate most, per variant. */
const DETAIL = process.argv.includes('--detail');
/** Small objects `/garbage/` allocates per request: about as much JavaScript as exact mode's decision allocates. */
const GARBAGE_OBJECTS = 120;

const VARIANTS = {
  pass: { label: 'pass-through', path: '/pass/x' },
  garbage: { label: `pass-through + ${GARBAGE_OBJECTS} objects of garbage`, path: `/garbage/${GARBAGE_OBJECTS}/x` },
  rpc: { label: 'floor: one bare DO call', path: '/rpc/x' },
  rpcgarbage: { label: 'one bare DO call + the same garbage, made before the call', path: `/rpcgarbage/${GARBAGE_OBJECTS}/x` },
  count: { label: 'floor: one DO call that counts, and its headers', path: '/rpccount/x' },
  exact: { label: 'edge-ratelimit (exact)', path: '/exact/open/hot' },
  lease: { label: 'edge-ratelimit (leases)', path: '/lease/open/hot' },
};
const at = process.argv.indexOf('--variants');
const chosen = at >= 0 ? process.argv[at + 1].split(',') : Object.keys(VARIANTS);
for (const v of chosen)
  if (!(v in VARIANTS)) throw new Error(`--variants: unknown variant ${v} (one of ${Object.keys(VARIANTS).join(', ')})`);

/** A slow response: over this, and over 3× the run's median. */
const SLOW_MS = 30;
/** Slow responses ending within this of each other belong to one stall. */
const CLUSTER_GAP_MS = 10;
/** A stall holding at least this many connections at once stopped the process, not one request. */
const PROCESS_WIDE = CONNECTIONS / 2;

/**
 * The stalls among `stamps` (`[endedAt, latencyMs]`, ended-at order): runs of
 * slow responses ending together, each with the indexes of its responses.
 */
function stallsOf(stamps, p50) {
  const threshold = Math.max(SLOW_MS, 3 * p50);
  const stalls = [];
  stamps.forEach(([end, latency], i) => {
    if (latency <= threshold) return;
    const last = stalls.at(-1);
    if (last && end - last.end <= CLUSTER_GAP_MS) {
      last.end = end;
      last.members.push(i);
      last.longestMs = Math.max(last.longestMs, latency);
    } else stalls.push({ start: end - latency, end, members: [i], longestMs: latency });
  });
  return { threshold, stalls };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** One variant driven for `SECONDS` with the sentinel beside it. */
async function drive(server, variant, ip) {
  const stamps = [];
  const sentinel = [];
  let driving = true;
  const started = performance.now();
  const asking = (async () => {
    while (driving) {
      const sent = performance.now();
      await (await fetch(`${server.url}/pass/sentinel`, { headers: { 'cf-connecting-ip': '203.0.113.9' } })).arrayBuffer();
      sentinel.push([performance.now() - started, performance.now() - sent]);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const run = autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'GET', path: VARIANTS[variant].path, headers: { 'cf-connecting-ip': ip } }],
  });
  run.on('response', (_client, _status, _bytes, latency) => stamps.push([performance.now() - started, latency]));
  const result = await run;
  driving = false;
  await asking;
  const pauses = server.pausesBetween(started, performance.now());
  const sorted = stamps.map(([, l]) => l).sort((a, b) => a - b);
  const p50 = pct(sorted, 50);
  const { threshold, stalls } = stallsOf(stamps, p50);
  const wide = stalls.filter((s) => s.members.length >= PROCESS_WIDE);
  const stalled = new Set(wide.flatMap((s) => s.members));
  const outside = stamps
    .filter((_, i) => !stalled.has(i))
    .map(([, l]) => l)
    .sort((a, b) => a - b);
  // The sentinel was held by a stall when one of its slow requests overlaps it.
  const sentinelHeld = wide.filter((s) => sentinel.some(([end, l]) => l > SLOW_MS && end >= s.start && end - l <= s.end)).length;
  return {
    requests: sorted.length,
    errors: result.errors + result.timeouts,
    p50Ms: p50,
    p99Ms: pct(sorted, 99),
    p999Ms: pct(sorted, 99.9),
    slowMs: threshold,
    stallsPerS: wide.length / SECONDS,
    stalledShare: stalled.size / sorted.length,
    p99OutsideMs: pct(outside, 99),
    sentinelHeld: wide.length > 0 ? sentinelHeld / wide.length : NaN,
    gcPausesOver10MsPerS: pauses.filter((p) => p.ms >= 10).length / SECONDS,
    gcLongestMs: Math.max(0, ...pauses.map((p) => p.ms)),
  };
}

/** A DevTools-protocol session with one isolate of workerd (its inspector). */
async function inspect(port, title) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.title === title);
  if (!target) throw new Error(`no inspector target "${title}" among ${targets.map((t) => t.title).join(', ')}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((done, fail) => {
    socket.addEventListener('open', done);
    socket.addEventListener('error', fail);
  });
  let id = 0;
  const waiting = new Map();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
  return {
    call: (method, params = {}) =>
      new Promise((done, fail) => {
        waiting.set(++id, (m) => (m.error ? fail(new Error(`${method}: ${m.error.message}`)) : done(m.result)));
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** The source file of each line of the bundle, from esbuild's `// path` markers. */
function sourcesOf(bundle) {
  const files = [];
  let current = '(bundle)';
  for (const line of bundle.split('\n')) {
    const marker = /^\/\/ (\S+\.(?:ts|js|mjs))$/.exec(line);
    if (marker) current = marker[1].replace(/^(\.\.\/)+/, '').replace(/^node_modules\//, '');
    files.push(current);
  }
  return files;
}

/**
 * JavaScript allocated per request by the main worker's isolate (the worker and its objects), and by which source files.
 * With `survivors`, only what outlived a young-generation collection (promoted, or alive at the end), which a
 * full collection has to reclaim: what makes the long pauses.
 */
async function allocation(server, session, sources, variant, ip, survivors = false) {
  const request = { method: 'GET', path: VARIANTS[variant].path, headers: { 'cf-connecting-ip': ip } };
  await session.call('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !survivors,
  });
  await autocannon({ url: server.url, connections: CONNECTIONS, amount: SAMPLED_REQUESTS, requests: [request] });
  const { profile } = await session.call('HeapProfiler.stopSampling');
  const byFile = new Map();
  let total = 0;
  const byFunction = new Map();
  const walk = (node, file) => {
    const frame = node.callFrame;
    const here = frame.url.endsWith('worker.js') && frame.lineNumber >= 0 ? sources[frame.lineNumber] : file;
    total += node.selfSize;
    if (node.selfSize > 0) byFile.set(here ?? '(runtime)', (byFile.get(here ?? '(runtime)') ?? 0) + node.selfSize);
    if (node.selfSize > 0 && DETAIL) {
      const name = `${frame.functionName || '(anonymous)'} (${here ?? 'runtime'})`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, undefined);
  const top = [...byFile]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([file, bytes]) => ({ file, bytes: Math.round(bytes / SAMPLED_REQUESTS) }));
  if (DETAIL)
    for (const [name, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 30))
      console.log(`  ${variant}${survivors ? ' (survivors)' : ''}: ${String(Math.round(bytes / SAMPLED_REQUESTS)).padStart(6)} B  ${name}`);
  return { bytesPerRequest: Math.round(total / SAMPLED_REQUESTS), top };
}

const pin = pinLoadGenerator();
const dir = mkdtempSync(join(tmpdir(), 'bench-tail-'));
build(dir);
const inspectorPort = await freePort();
const server = await startServer({ dir, cpu: 0, tightLimit: TIGHT_LIMIT, pin, inspectorPort });
const runs = Object.fromEntries(chosen.map((v) => [v, []]));
const allocations = {};
try {
  const ipOf = (v) => `198.51.100.${chosen.indexOf(v) + 1}`;
  // Warm: each variant's key object exists and every path has been compiled.
  for (const v of chosen)
    await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      amount: 2000,
      requests: [{ path: VARIANTS[v].path, headers: { 'cf-connecting-ip': ipOf(v) } }],
    });
  for (let round = 1; round <= ROUNDS; round++)
    for (const v of chosen) {
      const run = await drive(server, v, ipOf(v));
      runs[v].push(run);
      console.log(
        `round ${round} ${v.padEnd(8)} p50 ${run.p50Ms.toFixed(1)} p99 ${run.p99Ms.toFixed(1)} ms (${run.p99OutsideMs.toFixed(1)} outside stalls); stalls ${run.stallsPerS.toFixed(1)}/s holding ${(100 * run.stalledShare).toFixed(1)} % of requests; GC pauses ≥ 10 ms ${run.gcPausesOver10MsPerS.toFixed(1)}/s`,
      );
    }
  const session = await inspect(inspectorPort, 'workerd: worker main');
  const sources = sourcesOf(readFileSync(join(dir, 'build', 'worker.js'), 'utf8'));
  for (const v of chosen) {
    allocations[v] = await allocation(server, session, sources, v, ipOf(v));
    const survived = await allocation(server, session, sources, v, ipOf(v), true);
    allocations[v].survivedPerRequest = survived.bytesPerRequest;
  }
  session.close();
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

const spread2 = (xs) => [Math.min(...xs), Math.max(...xs)];
const summary = Object.fromEntries(
  chosen.map((v) => {
    const of = (field) => median(runs[v].map((r) => r[field]));
    const spread = (field) => [Math.min(...runs[v].map((r) => r[field])), Math.max(...runs[v].map((r) => r[field]))];
    return [
      v,
      {
        label: VARIANTS[v].label,
        p50Ms: of('p50Ms'),
        p99Ms: of('p99Ms'),
        p99Spread: spread('p99Ms'),
        stallsPerS: of('stallsPerS'),
        stalledShare: of('stalledShare'),
        sentinelHeld: of('sentinelHeld'),
        gcPausesOver10MsPerS: of('gcPausesOver10MsPerS'),
        // The goal's ratio: p99 over the bare object call's in the same round.
        p99OverBareCall: runs.rpc ? median(runs[v].map((r, i) => r.p99Ms / runs.rpc[i].p99Ms)) : NaN,
        p99OverBareCallSpread: runs.rpc ? spread2(runs[v].map((r, i) => r.p99Ms / runs.rpc[i].p99Ms)) : [NaN, NaN],
        p99OutsideMs: of('p99OutsideMs'),
        p99OutsideOverBareCall: runs.rpc ? median(runs[v].map((r, i) => r.p99OutsideMs / runs.rpc[i].p99OutsideMs)) : NaN,
        p99OutsideOverBareCallSpread: runs.rpc ? spread2(runs[v].map((r, i) => r.p99OutsideMs / runs.rpc[i].p99OutsideMs)) : [NaN, NaN],
        ...allocations[v],
      },
    ];
  }),
);

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const table = [
  '| variant | p50 ms | p99 ms (min–max) | p99 over the bare call p99, same round (min–max) | p99 outside stalls, ms | the same over the bare call (min–max) | stalls/s | requests in stalls | stalls the sentinel sat in | GC pauses ≥ 10 ms /s | JS allocated per request | of it, outlived a young collection | most of it |',
  '| --- | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ...chosen.map((v) => {
    const s = summary[v];
    return `| ${s.label} | ${f(s.p50Ms)} | ${f(s.p99Ms)} (${f(s.p99Spread[0])}–${f(s.p99Spread[1])}) | ${f(s.p99OverBareCall, 2)} (${f(s.p99OverBareCallSpread[0], 2)}–${f(s.p99OverBareCallSpread[1], 2)}) | ${f(s.p99OutsideMs)} | ${f(s.p99OutsideOverBareCall, 2)} (${f(s.p99OutsideOverBareCallSpread[0], 2)}–${f(s.p99OutsideOverBareCallSpread[1], 2)}) | ${f(s.stallsPerS)} | ${f(100 * s.stalledShare)} % | ${f(100 * s.sentinelHeld, 0)} % | ${f(s.gcPausesOver10MsPerS)} | ${(s.bytesPerRequest / 1024).toFixed(1)} KB | ${(s.survivedPerRequest / 1024).toFixed(1)} KB (${f((100 * s.survivedPerRequest) / s.bytesPerRequest, 0)} %) | ${s.top.map((t) => `${t.file} ${(t.bytes / 1024).toFixed(1)}`).join(', ')} |`;
  }),
].join('\n');
console.log(`\n${table}`);
writeFileSync(
  join(RESULTS, 'tail.json'),
  `${JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, summary, runs }, null, 2)}\n`,
);
writeFileSync(
  join(RESULTS, 'tail.md'),
  `# Where the hot key's slow responses come from

Written by \`npm run bench:tail\` on ${new Date().toISOString()}: ${ROUNDS} rounds of ${SECONDS} s per variant, ${CONNECTIONS} connections on one hot key, workerd on one core; medians over rounds. Raw figures in [tail.json](tail.json); how to read them in [the benchmark's README](../README.md#the-tail).

- A **stall** is a run of slow responses (over ${SLOW_MS} ms and 3× the run's median) ending within ${CLUSTER_GAP_MS} ms of each other that held at least ${PROCESS_WIDE} of the ${CONNECTIONS} connections at once.
- **p99 outside stalls** is the p99 of a run's responses with those held by its stalls left out: the variant's own tail, apart from the process's.
- The **sentinel** is one more client asking pass-through, one request at a time, during every run: a stall it sat in too stopped the whole process, not one variant's path.
- **JS allocated per request** is V8's sampling heap profile of the main worker's isolate (the worker and its Durable Objects), objects collected since included, over ${SAMPLED_REQUESTS.toLocaleString('en')} requests; "most of it" names the source files whose functions allocated most (KB per request; \`(runtime)\` is the runtime's own objects).
- **Outlived a young collection** is the same profile without the objects a young-generation collection (scavenge) reclaimed: what was promoted to the old generation and waits for a full collection, the long pauses.

${table}
`,
);
console.log(`\nwrote ${join('bench', 'results', 'tail.md')} and tail.json`);
