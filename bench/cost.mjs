// `npm run cost`: what the limiter costs on Cloudflare, in $ per million requests, per scenario.
// The key's object is the real code (src/durable-object/rate-limiter.ts, bundled with esbuild)
// driven by a simulated clock at real request paces; what it does is counted (object calls,
// alarms, rows read and written, seconds held in memory by a pending timer) and multiplied by
// the list prices in bench/prices.json. Worker-side rates (object calls per request behind the
// deny cache and leases, CPU per request) are the workerd measurements in bench/results/.
// Writes bench/results/cost.md, cost.json and cost.svg. See bench/results/cost.md.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results');
const PRICES = JSON.parse(readFileSync(join(ROOT, 'bench', 'prices.json'), 'utf8'));
const MEASURED = JSON.parse(readFileSync(join(RESULTS, 'results.json'), 'utf8'));
const CPU = JSON.parse(readFileSync(join(RESULTS, 'cpu.json'), 'utf8'));
/** The last commit whose object settled reservations with a timer: the timer policy is that code, run the same way. */
const TIMER_COMMIT = 'e8823aa';
/** An idle object that can hibernate is evicted after about this long (reference.md: roughly 10 s). */
const EVICT_IDLE_MS = 10_000;
const HOUR = 3_600_000;

// ---- the object code, bundled ------------------------------------------------------------

const DO_STUB = 'export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }';

/** Bundles rate-limiter.ts (today's, or `commit`'s with the files of its own folder) into an importable module. */
async function bundle(dir, commit) {
  const objectDir = join(ROOT, 'src', 'durable-object');
  const fromGit = (file) => execFileSync('git', ['show', `${commit}:src/durable-object/${file}`], { cwd: ROOT, encoding: 'utf8' });
  const plugin = {
    name: 'object',
    setup(b) {
      b.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: 'stub', namespace: 'stub' }));
      b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: DO_STUB, loader: 'js' }));
      if (!commit) return;
      // The object's own folder comes from the commit (its wire form and rows as they were); the algorithms are today's.
      b.onResolve({ filter: /^\.\/[a-z-]+$/ }, (args) =>
        args.namespace === 'git' || args.path === './rate-limiter' ? { path: args.path.slice(2), namespace: 'git' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'git' }, (args) => ({
        contents: fromGit(`${args.path}.ts`),
        loader: 'ts',
        resolveDir: objectDir,
      }));
    },
  };
  const outfile = join(dir, `${commit ?? 'current'}.mjs`);
  await build({
    stdin: { contents: "export { RateLimiter } from './rate-limiter';", resolveDir: objectDir, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    outfile,
    plugins: [plugin],
    logLevel: 'silent',
  });
  return (await import(pathToFileURL(outfile).href)).RateLimiter;
}

// ---- a simulated runtime -------------------------------------------------------------------

/**
 * Objects on a simulated clock. `Date.now`, `setTimeout` and `clearTimeout`
 * are the simulation's while it runs, so the object's own timers and alarms
 * run when their time comes. An object is in memory from a call until it has
 * been idle for {@link EVICT_IDLE_MS} with no timer pending; time with a
 * timer pending is time it cannot hibernate, billed as duration.
 */
class Runtime {
  constructor(ObjectClass) {
    this.ObjectClass = ObjectClass;
    this.now = 0;
    this.events = [];
    this.seq = 0;
    this.objects = new Map();
    this.counts = {
      objectCalls: 0,
      alarms: 0,
      rowsRead: 0,
      rowsWritten: 0,
      setAlarms: 0,
      awakeMs: 0,
      objectsCreated: 0,
      evictions: 0,
      storageKbSeconds: 0,
    };
    this.current = undefined;
  }

  install() {
    this.saved = { now: Date.now, setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
    Date.now = () => this.now;
    globalThis.setTimeout = (fn, ms = 0) => {
      const host = this.current;
      const event = this.at(this.now + Math.max(0, ms), () => {
        host?.timers.delete(event);
        this.enter(host, () => fn());
      });
      host?.timers.add(event);
      if (host) this.awake(host);
      return event;
    };
    globalThis.clearTimeout = (event) => {
      if (!event) return;
      event.cancelled = true;
      for (const host of this.objects.values()) host.timers.delete(event);
    };
  }

  uninstall() {
    Date.now = this.saved.now;
    globalThis.setTimeout = this.saved.setTimeout;
    globalThis.clearTimeout = this.saved.clearTimeout;
  }

  at(time, fn) {
    const event = { time, seq: this.seq++, fn, cancelled: false };
    this.events.push(event);
    return event;
  }

  /** Runs every event due up to `time`, in order, then moves the clock there. */
  advance(time) {
    for (;;) {
      let next;
      for (const e of this.events)
        if (!e.cancelled && e.time <= time && (!next || e.time < next.time || (e.time === next.time && e.seq < next.seq))) next = e;
      if (!next) break;
      this.events.splice(this.events.indexOf(next), 1);
      this.tick(next.time);
      next.fn();
    }
    this.tick(time);
  }

  /** Moves the clock, charging awake time and evicting idle objects on the way. */
  tick(time) {
    for (const host of this.objects.values()) {
      if (host.storage.size > 0 || host.alarmAt !== null)
        this.counts.storageKbSeconds += (PRICES.sqliteStorage.emptyDatabaseKb * (time - this.now)) / 1000;
      if (!host.instance) continue;
      if (host.timers.size > 0) {
        this.counts.awakeMs += time - this.now;
        host.idleSince = time;
      } else if (time - host.idleSince >= EVICT_IDLE_MS) {
        host.instance = undefined;
        this.counts.evictions++;
      }
    }
    this.now = time;
  }

  awake(host) {
    host.idleSince = this.now;
  }

  host(name) {
    let host = this.objects.get(name);
    if (!host) {
      host = {
        name,
        storage: new Map(),
        alarmAt: null,
        alarmEvent: undefined,
        timers: new Set(),
        instance: undefined,
        idleSince: this.now,
      };
      this.objects.set(name, host);
      this.counts.objectsCreated++;
    }
    return host;
  }

  enter(host, fn) {
    const previous = this.current;
    this.current = host;
    try {
      if (host && !host.instance) host.instance = new this.ObjectClass(this.state(host), {});
      if (host) this.awake(host);
      return fn(host?.instance);
    } finally {
      this.current = previous;
    }
  }

  /** Calls `method` on the object named `name`: one billed object request, delivered once the object has started. */
  async call(name, method, ...args) {
    this.counts.objectCalls++;
    const host = this.host(name);
    if (!host.instance) {
      this.enter(host, () => undefined);
      await host.starting;
    }
    return this.enter(host, (instance) => instance[method](...args));
  }

  state(host) {
    const counts = this.counts;
    const runtime = this;
    const kv = {
      get(key) {
        counts.rowsRead++;
        const value = host.storage.get(key);
        return value === undefined ? undefined : structuredClone(value);
      },
      put(key, value) {
        counts.rowsWritten++;
        host.storage.set(key, structuredClone(value));
      },
      delete(key) {
        const had = host.storage.delete(key);
        if (had) counts.rowsWritten++;
        return had;
      },
      *list({ prefix = '' } = {}) {
        for (const key of [...host.storage.keys()].sort()) {
          if (!key.startsWith(prefix)) continue;
          counts.rowsRead++;
          yield [key, structuredClone(host.storage.get(key))];
        }
      },
    };
    return {
      id: { toString: () => host.name },
      blockConcurrencyWhile: (fn) => (host.starting = fn()),
      storage: {
        kv,
        async getAlarm() {
          counts.rowsRead++;
          return host.alarmAt;
        },
        async setAlarm(time) {
          counts.rowsWritten++;
          counts.setAlarms++;
          runtime.schedule(host, time);
        },
        async deleteAlarm() {
          runtime.schedule(host, null);
        },
        async deleteAll() {
          counts.rowsWritten += host.storage.size;
          host.storage.clear();
          runtime.schedule(host, null);
        },
      },
    };
  }

  schedule(host, time) {
    if (host.alarmEvent) host.alarmEvent.cancelled = true;
    host.alarmAt = time;
    host.alarmEvent =
      time === null
        ? undefined
        : this.at(Math.max(time, this.now), () => {
            host.alarmAt = null;
            host.alarmEvent = undefined;
            this.counts.alarms++;
            this.enter(host, (instance) => instance.alarm());
          });
  }
}

/** Lets the object's pending promises (setAlarm, deleteAll) run. */
const settle = () => new Promise((r) => setImmediate(r));

// ---- scenarios -----------------------------------------------------------------------------

const limitOf = (config) => ({ id: 'rule/0', config, cost: 1, countRefused: false, shadow: false });
/** A limit the steady scenarios never reach (as the benchmark's `open` limit): a sliding window of 100,000 an hour. */
const OPEN = { algorithm: 'sliding-window', limit: 100_000, windowMs: HOUR };

/** A concurrency limit beside the open window (the example policy's reports: two in flight), with a slot lease of a minute. */
const SLOTS = { algorithm: 'concurrency', limit: 2, windowMs: 60_000 };

/**
 * Lets the keys go quiet until `end`, a second at a time: alarms run and
 * clean up, idle objects are evicted. Returns how many objects still hold
 * rows or an alarm.
 */
async function quietUntil(runtime, end) {
  for (let t = runtime.now; t < end; t += 1000) {
    runtime.advance(t);
    await settle();
  }
  runtime.advance(end);
  await settle();
  return [...runtime.objects.values()].filter((h) => h.storage.size > 0 || h.alarmAt !== null).length;
}

/**
 * Drives `keys` keys, each one request every `gapMs` (staggered), for
 * `durationMs` of simulated time, then lets every alarm run (the keys go
 * quiet and clean up). With `holdMs`, each key also has {@link SLOTS}: an
 * admitted request takes a slot and gives it back `holdMs` later, one more
 * object call (the middleware's release when the response body ends).
 * Returns the counts per request.
 */
async function paced(ObjectClass, { keys, gapMs, durationMs, config = OPEN, prefix = 'k', holdMs }) {
  const runtime = new Runtime(ObjectClass);
  runtime.install();
  let requests = 0;
  let allowed = 0;
  try {
    const start = HOUR * 10;
    runtime.now = start;
    const perKey = Math.floor(durationMs / gapMs);
    const limits = holdMs === undefined ? [limitOf(config)] : [limitOf(config), { ...limitOf(SLOTS), id: 'rule/slots' }];
    /** Releases due, in time order: each an admitted request's slot. */
    const releases = [];
    const releaseUntil = async (t) => {
      while (releases.length > 0 && releases[0].at <= t) {
        const { at, key, countedAt } = releases.shift();
        runtime.advance(at);
        await runtime.call(key, 'release', at, [{ id: 'rule/slots', config: SLOTS, cost: 1, countedAt }]);
        await settle();
      }
    };
    for (let i = 0; i < perKey; i++) {
      for (let k = 0; k < keys; k++) {
        const t = start + i * gapMs + Math.floor((k * gapMs) / keys);
        await releaseUntil(t);
        runtime.advance(t);
        const decision = await runtime.call(`${prefix}${k}`, 'check', { now: t, limits });
        requests++;
        if (decision.allowed) allowed++;
        if (decision.allowed && holdMs !== undefined) {
          releases.push({ at: t + holdMs, key: `${prefix}${k}`, countedAt: t });
          releases.sort((a, b) => a.at - b.at);
        }
        await settle();
      }
    }
    await releaseUntil(Number.POSITIVE_INFINITY);
    const left = await quietUntil(runtime, start + perKey * gapMs + 3 * config.windowMs);
    return { requests, allowed, ...runtime.counts, objectsLeft: left };
  } finally {
    runtime.uninstall();
  }
}

/** Never-seen keys: `n` keys, one request each, 10 ms apart, then every alarm runs. */
async function neverSeen(ObjectClass, n, config = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 }) {
  const runtime = new Runtime(ObjectClass);
  runtime.install();
  try {
    runtime.now = HOUR * 10;
    for (let i = 0; i < n; i++) {
      runtime.advance(runtime.now + 10);
      await runtime.call(`new${i}`, 'check', { now: runtime.now, limits: [limitOf(config)] });
      await settle();
    }
    const left = await quietUntil(runtime, runtime.now + 3 * config.windowMs);
    return { requests: n, allowed: n, ...runtime.counts, objectsLeft: left };
  } finally {
    runtime.uninstall();
  }
}

// ---- pricing -------------------------------------------------------------------------------

const P = PRICES;
/** $ per million requests of each line, from counts per request. */
function price(perRequest) {
  const lines = {
    'DO requests': perRequest.objectRequests * P.durableObjects.requestPerMillion,
    'DO duration': perRequest.awakeSeconds * P.durableObjects.memoryGb * P.durableObjects.gbSecondPerMillion,
    'rows written': perRequest.rowsWritten * P.sqliteStorage.rowWrittenPerMillion,
    'rows read': perRequest.rowsRead * P.sqliteStorage.rowReadPerMillion,
    'Worker CPU (added)': perRequest.addedCpuMs * P.workers.cpuMsPerMillion,
    storage: (perRequest.storageKbSeconds / 1024 / 1024 / (30 * 86400)) * P.sqliteStorage.gbMonth * 1e6,
  };
  const limiter = Object.values(lines).reduce((a, b) => a + b, 0);
  return { lines, limiter, total: limiter + P.workers.requestPerMillion };
}

/** Counts per request from a simulated run, with `callsPerRequest` object calls per request (the worker's measured rate). */
function perRequestOf(run, { callsPerRequest = 1, addedCpuMs }) {
  const perCall = (x) => x / run.objectCalls;
  return {
    objectRequests: callsPerRequest + (run.alarms / run.requests) * (callsPerRequest > 0 ? 1 : 0),
    awakeSeconds: (run.awakeMs / 1000 / run.objectCalls) * callsPerRequest,
    rowsWritten: perCall(run.rowsWritten) * callsPerRequest,
    rowsRead: perCall(run.rowsRead) * callsPerRequest,
    storageKbSeconds: perCall(run.storageKbSeconds) * callsPerRequest,
    addedCpuMs,
    alarmsPerRequest: run.alarms / run.requests,
  };
}

// ---- run -----------------------------------------------------------------------------------

const cpuMs = (variant) => CPU.variants[variant].microsPerRequest.median / 1000;
const ADDED_CPU = { exact: cpuMs('exact') - cpuMs('pass'), lease: cpuMs('lease') - cpuMs('pass'), rpc: cpuMs('rpc') - cpuMs('pass') };
const measured = (scenario, variant) => MEASURED.summary[scenario][variant];

const dir = mkdtempSync(join(tmpdir(), 'cost-'));
const started = Date.now();
try {
  const Current = await bundle(dir);
  const Timer = await bundle(dir, TIMER_COMMIT);

  // Paces for the settle policy: one key each, 20 minutes of requests (10 minutes at 10/s).
  const PACES = [
    { label: '10/s', gapMs: 100, durationMs: 10 * 60_000 },
    { label: '1/s', gapMs: 1000, durationMs: 20 * 60_000 },
    { label: '1 per 5 s', gapMs: 5000, durationMs: 30 * 60_000 },
    { label: '1 per 10 s', gapMs: 10_000, durationMs: 20 * 60_000 },
    { label: '1 per 30 s', gapMs: 30_000, durationMs: 20 * 60_000 },
  ];
  const paces = [];
  for (const pace of PACES) {
    const alarm = await paced(Current, { keys: 1, ...pace });
    const timer = await paced(Timer, { keys: 1, ...pace });
    const a = price(perRequestOf(alarm, { addedCpuMs: ADDED_CPU.exact }));
    const t = price(perRequestOf(timer, { addedCpuMs: ADDED_CPU.exact }));
    // One object per key writing each request's count: a call and a row per request, and the clean-up alarm (a setAlarm and a run) per window the key is seen in.
    const windows = Math.max(1, pace.durationMs / OPEN.windowMs);
    const writeEach = price({
      objectRequests: 1 + windows / alarm.requests,
      awakeSeconds: 0,
      rowsWritten: 1 + windows / alarm.requests,
      rowsRead: 1,
      addedCpuMs: ADDED_CPU.exact,
      storageKbSeconds: 0,
    });
    paces.push({ ...pace, alarm: { run: alarm, cost: a }, timer: { run: timer, cost: t }, writeEach: { cost: writeEach } });
  }

  // Scenarios.
  const hotRun = await paced(Current, { keys: 1, gapMs: 1, durationMs: 60_000 });
  const warmRun = await paced(Current, { keys: 100, gapMs: 1000, durationMs: 10 * 60_000 });
  const pollRun = await paced(Current, { keys: 300, gapMs: 5000, durationMs: 30 * 60_000 });
  const pollTimerRun = await paced(Timer, { keys: 300, gapMs: 5000, durationMs: 30 * 60_000 });
  const slotsRun = await paced(Current, { keys: 100, gapMs: 1000, durationMs: 10 * 60_000, holdMs: 200, prefix: 's' });
  const freshRun = await neverSeen(Current, 2000);
  const freshTimerRun = await neverSeen(Timer, 2000);

  const floodCalls = measured('flood', 'exact').doCallsPer1k / 1000;
  const leaseCalls = measured('hot', 'lease').doCallsPer1k / 1000;
  const leaseRows = measured('hot', 'lease').rowsWrittenPer1k / 1000;
  /** A scenario priced from its simulated run in exact mode, and from the timer commit's object's run where there is one. */
  const simulated = (name, run, timerRun) => ({
    name,
    exact: perRequestOf(run, { addedCpuMs: ADDED_CPU.exact }),
    run,
    ...(timerRun ? { timer: perRequestOf(timerRun, { addedCpuMs: ADDED_CPU.exact }) } : {}),
  });
  const scenarios = [
    simulated('one hot key (1,000 req/s)', hotRun),
    simulated('1,000 warm keys at 1 req/s each (100 simulated, 10 min)', warmRun),
    simulated('10,000 polling clients at 1 per 5 s (300 simulated, 30 min)', pollRun, pollTimerRun),
    {
      // Two object calls per request: the check, and the release when the response body has been streamed.
      name: '1,000 warm keys at 1 req/s, each with a concurrency limit (a release per request; 100 simulated, 10 min)',
      exact: perRequestOf(slotsRun, { callsPerRequest: slotsRun.objectCalls / slotsRun.requests, addedCpuMs: ADDED_CPU.exact }),
      run: slotsRun,
    },
    simulated('never-seen keys (one request each)', freshRun, freshTimerRun),
    {
      name: 'flood of refusals (one key at 10× its limit)',
      exact: {
        objectRequests: floodCalls,
        awakeSeconds: 0,
        rowsWritten: 0,
        rowsRead: floodCalls,
        storageKbSeconds: 0,
        addedCpuMs: ADDED_CPU.exact,
      },
    },
  ];
  const leases = {
    // Lease calls per request and rows per request measured under workerd on the hot key; a lease call writes at most one row per limit and arms no timer.
    objectRequests: leaseCalls,
    awakeSeconds: 0,
    rowsWritten: leaseRows,
    rowsRead: leaseCalls,
    storageKbSeconds: 0,
    addedCpuMs: ADDED_CPU.lease,
  };
  const rows = scenarios.map((s) => {
    const exact = price(s.exact);
    // A design writing each call's count: per request, one call and row, two with a concurrency limit's release.
    const calls = s.name.includes('concurrency limit') ? 2 : 1;
    const writeEach = price({
      objectRequests: calls,
      awakeSeconds: 0,
      rowsWritten: calls,
      rowsRead: calls,
      addedCpuMs: ADDED_CPU.rpc,
      storageKbSeconds: s.exact.storageKbSeconds,
    });
    const lease = s.name.startsWith('one hot key')
      ? price(leases)
      : s.name.startsWith('flood')
        ? price({ ...leases, objectRequests: 0, rowsWritten: 0, rowsRead: 0 })
        : undefined;
    return {
      name: s.name,
      counts: s.exact,
      exact,
      timer: s.timer ? price(s.timer) : undefined,
      lease,
      writeEach,
      binding: price({ objectRequests: 0, awakeSeconds: 0, rowsWritten: 0, rowsRead: 0, addedCpuMs: 0, storageKbSeconds: 0 }),
      run: s.run,
    };
  });

  // Never-seen keys: what each new key costs, line by line.
  const fresh = rows.find((r) => r.name.startsWith('never-seen'));
  const results = {
    date: new Date(started).toISOString(),
    prices: PRICES,
    timerCommit: TIMER_COMMIT,
    addedCpuMs: ADDED_CPU,
    paces: paces.map((p) => ({
      label: p.label,
      gapMs: p.gapMs,
      requests: p.alarm.run.requests,
      alarm: { counts: p.alarm.run, perMillion: p.alarm.cost },
      timer: { counts: p.timer.run, perMillion: p.timer.cost },
      writeEach: { perMillion: p.writeEach.cost },
    })),
    scenarios: rows.map(({ run, ...r }) => ({ ...r, counts: { ...r.counts, run } })),
  };
  writeFileSync(join(RESULTS, 'cost.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS, 'cost.svg'), chart(rows));
  writeFileSync(join(RESULTS, 'cost.md'), markdown(results, rows, paces, fresh));
  console.log(readFileSync(join(RESULTS, 'cost.md'), 'utf8'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// ---- output --------------------------------------------------------------------------------

function usd(x) {
  if (x === undefined) return 'n/a';
  if (x === 0) return '$0';
  return x >= 1 ? `$${x.toFixed(2)}` : x >= 0.01 ? `$${x.toFixed(3)}` : `$${x.toPrecision(2)}`;
}
function n(x, d = 3) {
  return x === 0 ? '0' : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(d);
}
/** A list price as its page writes it: cents to two places, smaller prices in full ($0.001). */
function listPrice(x) {
  return x >= 0.01 ? `$${x.toFixed(2)}` : `$${x}`;
}

function markdown(results, rows, paces, fresh) {
  const out = [];
  out.push('# What it costs on Cloudflare');
  out.push('');
  out.push(
    `Written by \`npm run cost\` on ${results.date}; raw figures in [cost.json](cost.json), the chart in [cost.svg](cost.svg), prices in [../prices.json](../prices.json) (read ${PRICES.read}).`,
  );
  out.push('');
  out.push('![limiter cost per million requests, by scenario](cost.svg)');
  out.push('');
  out.push('## Per scenario, $ per million requests');
  out.push('');
  out.push(
    `What the limiter adds to the Worker's own request price (${usd(P.workers.requestPerMillion)} per million): object requests (calls and alarms), object duration while a timer keeps it in memory, rows written and read, storage held, and the Worker CPU the limiter adds over pass-through (${n(ADDED_CPU.exact)} ms a request in exact mode, ${n(ADDED_CPU.lease)} ms with leases, measured in bench/results/cpu.md).`,
  );
  out.push('');
  out.push(
    '| scenario | exact mode | exact, timer settle (before) | leases of 64 | one object per key writing each request | Rate Limiting binding |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    out.push(
      `| ${r.name} | ${usd(r.exact.limiter)} | ${usd(r.timer?.limiter)} | ${usd(r.lease?.limiter)} | ${usd(r.writeEach.limiter)} | ${usd(r.binding.limiter)} |`,
    );
  out.push('');
  out.push('Counts per request behind exact mode (simulated runs of the real object code):');
  out.push('');
  out.push('| scenario | requests simulated | object requests | alarms | rows written | rows read | awake s | largest line |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    const [line, value] = Object.entries(r.exact.lines).sort((a, b) => b[1] - a[1])[0];
    out.push(
      `| ${r.name} | ${r.run?.requests ?? 'measured'} | ${n(r.counts.objectRequests)} | ${n(r.counts.alarmsPerRequest ?? 0)} | ${n(r.counts.rowsWritten)} | ${n(r.counts.rowsRead)} | ${n(r.counts.awakeSeconds)} | ${line} ${usd(value)} |`,
    );
  }
  out.push('');
  out.push('## Settle policy by pace: one key, $ per million requests');
  out.push('');
  out.push(
    "The policy now: alarm settle for a key back within 6 s, an exact write per request for a slower one. *Write every request* is the ideal reference: a call and a row per request and one clean-up alarm per window, nothing else; at slow paces the policy now is that same write plus a real object's alarm runs and reads, within a few per cent of it.",
  );
  out.push('');
  out.push(
    '| pace | requests | timer settle (before) | policy now | write every request | cheapest | awake s/request, timer | rows/request, now | alarms/request, now |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
  for (const p of paces) {
    const options = {
      'timer settle': p.timer.cost.limiter,
      'alarm settle': p.alarm.cost.limiter,
      'write every request': p.writeEach.cost.limiter,
    };
    const cheapest = Object.entries(options).sort((a, b) => a[1] - b[1])[0][0];
    out.push(
      `| ${p.label} | ${p.alarm.run.requests} | ${usd(p.timer.cost.limiter)} | ${usd(p.alarm.cost.limiter)} | ${usd(p.writeEach.cost.limiter)} | ${cheapest} | ${n(p.timer.run.awakeMs / 1000 / p.timer.run.requests)} | ${n(p.alarm.run.rowsWritten / p.alarm.run.requests)} | ${n(p.alarm.run.alarms / p.alarm.run.requests)} |`,
    );
  }
  out.push('');
  out.push('## Goals');
  out.push('');
  out.push('| goal | reached | met |');
  out.push('| --- | --- | --- |');
  // Window limits only: a concurrency limit's slot is written each time it is taken (its row below prices that).
  const steady = rows.filter((r) => /hot|warm|polling/.test(r.name) && !/concurrency/.test(r.name));
  const worstSteady = Math.max(...steady.map((r) => r.exact.limiter), ...paces.map((p) => p.alarm.cost.limiter));
  const worstFast = Math.max(
    ...steady.map((r) => r.exact.limiter),
    ...paces.filter((p) => p.gapMs < 6000).map((p) => p.alarm.cost.limiter),
  );
  out.push(
    `| exact mode, steady traffic, every pace and key count: ≤ $0.25 per million allowed | ${usd(worstFast)} at most for keys back within 6 s; ${usd(worstSteady)} at 1 per 30 s | ${worstSteady <= 0.25 ? 'yes' : `**no**: a key slower than an idle object's eviction (about 10 s) is counted afresh by a new instance each visit, so its count must be written each time: the floor is one row written and one call, ${usd(P.sqliteStorage.rowWrittenPerMillion + P.durableObjects.requestPerMillion)}`} |`,
  );
  const hotLease = rows.find((r) => r.name.startsWith('one hot key')).lease.limiter;
  out.push(`| leases, hot key: ≤ $0.02 per million | ${usd(hotLease)} | ${hotLease <= 0.02 ? 'yes' : '**no**'} |`);
  const flood = rows.find((r) => r.name.startsWith('flood')).exact.limiter;
  out.push(`| flood of refusals: ≤ $0.01 per million | ${usd(flood)} | ${flood <= 0.01 ? 'yes' : '**no**'} |`);
  const poll = rows.find((r) => /polling/.test(r.name));
  out.push(
    `| polling clients: no more than writing every request | ${usd(poll.exact.limiter)} vs ${usd(poll.writeEach.limiter)} | ${poll.exact.limiter <= poll.writeEach.limiter ? 'yes' : '**no**'} |`,
  );
  const worstTimerRatio = Math.max(...paces.map((p) => p.alarm.cost.limiter / Math.min(p.timer.cost.limiter, p.writeEach.cost.limiter)));
  out.push(
    `| settle policy: the cheaper of timer, alarm and a write per request at every pace | within ${((worstTimerRatio - 1) * 100).toFixed(0)} % of the cheapest at every pace | ${worstTimerRatio <= 1.05 ? 'yes' : '**no**'} |`,
  );
  out.push(`| never-seen keys: against their floor | ${usd(fresh.exact.limiter)} | at the floor (see below) |`);
  out.push('');
  out.push('## Never-seen keys, $ per million new keys');
  out.push('');
  out.push('| line | exact mode | per key |');
  out.push('| --- | ---: | --- |');
  for (const [line, value] of Object.entries(fresh.exact.lines)) out.push(`| ${line} | ${usd(value)} | |`);
  out.push(`| Worker request | ${usd(P.workers.requestPerMillion)} | |`);
  out.push(
    `| **total** | **${usd(fresh.exact.total)}** | ${n(fresh.counts.objectRequests)} object requests, ${n(fresh.counts.rowsWritten)} rows written, ${n(fresh.counts.rowsRead)} rows read; ${fresh.run.objectsLeft} of ${fresh.run.objectsCreated} objects left holding storage after three windows |`,
  );
  out.push('');
  out.push(modelText());
  return `${out.join('\n')}\n`;
}

function modelText() {
  return `## The model

- **Counts come from the real code.** \`src/durable-object/rate-limiter.ts\` is bundled with esbuild and run in Node on a simulated clock: \`Date.now\`, \`setTimeout\` and the object's storage alarm follow that clock, so the object's own timers and alarms run at real request paces (10 minutes of a warm key's traffic take seconds). Its storage is a counting stand-in for the synchronous KV API: every \`put\`, \`delete\` of a stored row and \`setAlarm\` is a row written; every \`get\`, \`getAlarm\` and listed row is a row read. Every call is an object request, and so is every alarm run. An object is evicted once idle for ${EVICT_IDLE_MS / 1000} s with no timer pending; while a timer is pending it cannot hibernate, and that time is billed as duration at 128 MB. An empty database is billed at ${PRICES.sqliteStorage.emptyDatabaseKb} KB while it holds a row or an alarm.
- **The timer policy is the code as it was** (git ${TIMER_COMMIT}: a timer settles a reservation ${8} s after the key goes quiet), run the same way.
- **Worker-side rates are measured under workerd** (bench/results/results.json and cpu.json): object calls per refused request behind the deny cache (flood), lease calls and rows per request (leases), and the Worker CPU the limiter adds over pass-through. The Worker's own ${listPrice(PRICES.workers.requestPerMillion)} per million requests is paid by any design, so the tables show what the limiter adds.
- **Scaled down, honestly.** Keys do not share objects, so the cost per request does not depend on the number of keys: 1,000 warm keys are simulated as 100 for 10 minutes and 10,000 polling clients as 300 for 30 minutes, at their real paces, each followed by three windows of quiet (settling and clean-up included).
- **References.** *One object per key writing each request*: a call and a row written per request (the npm DO peer's shape, and what a limiter without reservations pays). *Rate Limiting binding*: neither its page nor the Workers pricing page names a charge for it (read ${PRICES.read}), so only the Worker's request is counted; neither page says it is free either. It is not exact (per-location counters, eventually consistent).
- **Not counted.** KV: the live configuration is read by each isolate at most once per 30 s (one list and one read per entry, ${listPrice(PRICES.kv.listPerMillion)} and ${listPrice(PRICES.kv.readPerMillion)} per million), a cost per isolate and not per request. Analytics Engine: with a dataset bound, each decision writes one data point per rule, $${PRICES.analyticsEngine.dataPointPerMillion} per million (on top of every figure above). Plan inclusions (10 M Worker requests, 1 M object requests, 400,000 GB-s a month) are left out: at scale they are a rounding error.
- **Prices, each cited in [../prices.json](../prices.json) with its page and the date read (${PRICES.read}).** Durable Objects (https://developers.cloudflare.com/durable-objects/platform/pricing/): ${listPrice(P.durableObjects.requestPerMillion)} per million requests, alarm invocations included; ${listPrice(P.durableObjects.gbSecondPerMillion)} per million GB-s at 128 MB; SQLite storage ${listPrice(P.sqliteStorage.rowReadPerMillion)} per million rows read, ${listPrice(P.sqliteStorage.rowWrittenPerMillion)} per million rows written, ${listPrice(P.sqliteStorage.gbMonth)} per GB-month, with \`get\`, \`put\`, \`delete\` and \`list\` billed as rows and each \`setAlarm()\` as one row written. Workers (https://developers.cloudflare.com/workers/platform/pricing/): ${listPrice(P.workers.requestPerMillion)} per million requests, ${listPrice(P.workers.cpuMsPerMillion)} per million CPU ms. KV (https://developers.cloudflare.com/kv/platform/pricing/): ${listPrice(P.kv.readPerMillion)} per million reads, ${listPrice(P.kv.writePerMillion)} per million writes, deletes or lists. Analytics Engine (https://developers.cloudflare.com/analytics/analytics-engine/pricing/): ${listPrice(P.analyticsEngine.dataPointPerMillion)} per million data points.
- **\`deleteAll()\`, as the pricing pages put it.** The Durable Objects pricing page says deletes are counted as rows written and that stored data is billed until it is removed; the Durable Objects FAQ (https://developers.cloudflare.com/durable-objects/reference/faq/) says an empty database holds about 12 KB, and the metadata every write leaves, until \`deleteAll()\`. Neither says how one \`deleteAll()\` is counted (a row written per row it drops, or otherwise), so the model counts every row it drops as written, as it would a delete of each; the pages do not say whether the alarm or the internal metadata it drops count as well.
- **Duration of an object that cannot hibernate, as the pricing pages put it.** The Durable Objects pricing page bills duration while an object runs or is idle in memory but unable to hibernate, and not while it is idle and able to, even before it is hibernated; among its examples, pending outbound operations (fetches, service-binding and object-to-object calls, sockets) keep an object in memory, each for up to 15 minutes, billed meanwhile. The page names neither pending timers nor compatibility date 2026-10-01: those come from the changelog (https://developers.cloudflare.com/changelog/post/2026-10-01-pending-io-keep-alive/, read ${PRICES.read}), which from compatibility date 2026-10-01 gives pending \`setTimeout()\` and \`setInterval()\` timers and \`waitUntil()\` promises the same protection from eviction. The model bills a pending timer's time as duration on that reading; a storage alarm keeps nothing in memory.

### Settle policy

A hot key's object counts in memory and writes reservations ahead. Before, a timer settled the exact count 8 s after the key went quiet; from compatibility date 2026-10-01 a pending timer keeps the object in memory, billed for its duration, and a key in steady use kept one pending all the time: at one request every 5 s, 5 s awake (0.625 GB-s, $7.8 per million requests) per request. Now the object's storage alarm does the settling (an alarm lets it hibernate): the first check comes 8 s after the reservation, and each check that finds the key busy doubles the wait, up to 128 s, so a key in steady use pays an alarm run and a \`setAlarm\` about every two minutes. A key that goes quiet after a minute or more of steady use is usually evicted before its check (an idle object goes after about 10 s), so it keeps its reservation instead of settling: the price of not paying for a check per request. A key reserves only when it comes back within 6 s (\`HOT_MS\`); a slower one writes its exact count each time, which is what writing every request costs (an object idle 10 s is evicted between visits anyway, so it could not count in memory). An object evicted before its settling alarm keeps the reservation storage holds: it refuses early by at most that reservation (at most 1 % of the limit), never admits more. An object restarted between visits reads the alarm it set before instead of writing a new one.

### Never-seen keys: the floor

A new key costs a call to a new object, its count written (it must be durable before the answer, or an eviction would forget it), and a clean-up alarm: a \`setAlarm\` (a row) and the alarm's run (a request), which drops everything with one \`deleteAll()\` (rows, alarm and the 12 KB of an empty database). None of that can go without losing exactness (the count) or leaving storage behind (the alarm). What could go, went: the alarm used to delete each expired row before \`deleteAll()\` (a row written each); now it calls \`deleteAll()\` alone. Cloudflare's Durable Objects pricing page counts deletes as rows written but does not say how a \`deleteAll()\` is counted (see the model above); the model counts every row it drops as written, so the figure above (2 object requests, 3 rows written per new key) is an upper bound as long as a \`deleteAll()\` bills no more than a row per row it drops, and the floor is 2 requests and 2 or 3 rows: $2.3–3.3 per million new keys on top of the Worker's price. The way to make a botnet or an IPv6 rotation cheaper is to key on a coarser identity (an IPv6 /64 prefix), which turns never-seen keys into warm ones.
`;
}

function chart(rows) {
  const series = [
    ['exact', 'exact mode', '#1f77b4'],
    ['lease', 'leases', '#2ca02c'],
    ['writeEach', 'a row per request', '#d62728'],
  ];
  const barH = 10;
  const groupH = series.length * barH + 14;
  const left = 400;
  const width = 900;
  const max = Math.max(...rows.flatMap((r) => series.map(([k]) => r[k]?.limiter ?? 0)));
  const scale = (width - left - 80) / max;
  const h = rows.length * groupH + 60;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<text x="10" y="16" font-size="13">Limiter cost, $ per million requests (on top of the Worker's $0.30)</text>`,
  ];
  rows.forEach((r, i) => {
    const y0 = 30 + i * groupH;
    parts.push(`<text x="10" y="${y0 + groupH / 2}">${r.name.replace(/&/g, '&amp;')}</text>`);
    series.forEach(([k, , color], j) => {
      const v = r[k]?.limiter;
      if (v === undefined) return;
      const y = y0 + j * barH;
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, v * scale).toFixed(1)}" height="${barH - 2}" fill="${color}"/>`);
      parts.push(`<text x="${left + Math.max(1, v * scale) + 4}" y="${y + barH - 2}">${usd(v)}</text>`);
    });
  });
  series.forEach(([, label, color], j) => {
    parts.push(
      `<rect x="${left + j * 140}" y="${h - 18}" width="10" height="10" fill="${color}"/><text x="${left + j * 140 + 14}" y="${h - 9}">${label}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
