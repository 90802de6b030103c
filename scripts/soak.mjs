// The soak test (`npm run soak`): the real worker (test/soak/worker.ts, the
// limiter with test/soak/policy.ts) under `wrangler dev` (workerd) on a free
// loopback port, driven for minutes with many client addresses and tokens and
// mixed traffic, then checked:
//   - no over-admission: admitted requests per key and window never exceed a limit;
//   - no wrong refusal of the exact per-IP limit;
//   - no error responses besides 429s and the origin failures asked for, and no fail-open;
//   - workerd's resident memory flat after warm-up (runs of 4 minutes or more);
//   - storage empty once every window has expired.
// Prints a report table; exits 1 when a check fails.
//   npm run soak                      # 300 s, 200 client addresses
//   npm run soak -- --quick           # 30 s: every check but memory
//   npm run soak -- --coalesce        # with the opt-in coalescing of concurrent calls to one key's object
//   npm run soak -- --duration 600 --keys 1000 --concurrency 32
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startOrigin } from './demo-origin.mjs';
import { freePort, startWranglerDev } from './wrangler-dev.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    coalesce: { type: 'boolean', default: false },
    duration: { type: 'string' },
    keys: { type: 'string', default: '200' },
    tokens: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
  },
});
const DURATION_S = Number(args.duration ?? (args.quick ? 30 : 300));
const KEYS = Number(args.keys);
const TOKENS = Number(args.tokens);
const CONCURRENCY = Number(args.concurrency);
const HOT_KEYS = 5;
/**
 * Memory is compared from here on. Under wrangler dev, workerd's memory climbs for the first few
 * minutes (each object's SQLite cache, the runtime's own heaps) before it levels off, so the first
 * half of a run is warm-up; a run shorter than four minutes reports memory without judging it.
 */
const WARMUP_S = Math.round(DURATION_S / 2);
const JUDGE_MEMORY = DURATION_S >= 240;

// The limits of test/soak/policy.ts, as the check needs them.
const LIMITS = JSON.parse(readFileSync(join(ROOT, 'test/soak/limits.json'), 'utf8'));
/** The longest any row lives after its last request: a sliding window keeps two windows. */
const LONGEST_ROW_MS = 2 * LIMITS.sliding.windowMs;

/** Every process below `pid`. */
function descendants(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    let children = [];
    try {
      for (const task of readdirSync(`/proc/${p}/task`))
        children.push(...readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      children = [];
    }
    out.push(...children);
    stack.push(...children);
  }
  return out;
}

function rssMb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  } catch {
    return 0; // gone since it was listed
  }
}

function sqliteFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  let entries = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out; // removed while being listed
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sqliteFiles(path));
    else if (entry.name.endsWith('.sqlite')) out.push(path);
  }
  return out;
}

/** Rows the key objects still hold, read from their SQLite files (independent of the code under test). */
async function storedRows(stateDir) {
  const { DatabaseSync } = await import('node:sqlite');
  const files = sqliteFiles(join(stateDir, 'persist', 'v3', 'do'));
  let rows = 0;
  let objectsWithRows = 0;
  let unreadable = 0;
  for (const file of files) {
    let db;
    try {
      db = new DatabaseSync(file, { readOnly: true });
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_cf_KV'").all();
      const n = tables.length ? Number(db.prepare('SELECT count(*) AS n FROM _cf_KV').get().n) : 0;
      rows += n;
      if (n > 0) objectsWithRows++;
    } catch {
      // Being written or deleted right now: counted as not yet empty, read again on the next pass.
      unreadable++;
    } finally {
      db?.close();
    }
  }
  return { files: files.length, rows: rows + unreadable, objectsWithRows: objectsWithRows + unreadable };
}

/**
 * Bundles the soak worker once, into a directory of its own: `wrangler dev`
 * reloads the worker when its sources change, and the run must not pick up
 * edits made to the working tree while it lasts.
 */
function buildWorker(dir) {
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
      'deploy',
      '--dry-run',
      '--outdir',
      join(dir, 'build'),
      '--config',
      join(ROOT, 'test/soak/wrangler.toml'),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    },
  );
  const source = readFileSync(join(ROOT, 'test/soak/wrangler.toml'), 'utf8').replace(
    /^main = .*$/m,
    'main = "build/worker.js"\nno_bundle = true',
  );
  writeFileSync(join(dir, 'wrangler.toml'), source);
  return join(dir, 'wrangler.toml');
}

async function startWorker(originUrl) {
  const state = mkdtempSync(join(tmpdir(), 'edge-ratelimit-soak-'));
  const dev = await startWranglerDev({
    port: await freePort(),
    persistTo: join(state, 'persist'),
    vars: { ORIGIN_URL: originUrl, SOAK_COALESCE: args.coalesce ? 'on' : 'off' },
    args: ['--config', buildWorker(state), '--log-level', process.env.SOAK_LOG_LEVEL ?? 'warn'],
    // Ready once the soak worker itself answers: its responses carry X-Soak-Now.
    ready: async ({ url }) => {
      try {
        const r = await fetch(`${url}/__ready`, { headers: { 'CF-Connecting-IP': '192.0.2.254' } });
        await r.arrayBuffer();
        return r.headers.has('x-soak-now');
      } catch {
        return false; // not accepting connections yet
      }
    },
    withinMs: 90_000,
    everyMs: 500,
    keepLog: 20_000,
  });
  // wrangler dev runs workerd processes that come and go; memory is the sum of those alive.
  const workerd = () =>
    descendants(dev.pid).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'workerd';
      } catch {
        return false;
      }
    });
  return {
    url: dev.url,
    state,
    workerd,
    log: dev.output,
    async stop() {
      await dev.stop();
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/** A small deterministic generator, so a run can be repeated. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ipOf = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

async function drive(url, until, record) {
  const random = rng(42);
  let sent = 0;
  // Warm-up touches every address and token first, so every key's object exists before memory is measured.
  let next = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const warming = next < Math.max(KEYS, TOKENS);
      const i = next++;
      const r = random();
      const ip = warming ? ipOf(i % KEYS) : r < 0.5 ? ipOf(Math.floor(random() * KEYS)) : ipOf(Math.floor(random() * HOT_KEYS));
      const token = warming ? (i < TOKENS ? i : -1) : random() < 0.25 ? Math.floor(random() ** 2 * TOKENS) : -1;
      const post = random() < 0.1;
      const path = post ? (random() < 0.5 ? '/status/500' : '/orders') : '/hello';
      const headers = { 'CF-Connecting-IP': ip, ...(token >= 0 ? { Authorization: `Bearer soak-token-${token}` } : {}) };
      sent++;
      try {
        const response = await fetch(url + path, { method: post ? 'POST' : 'GET', headers, ...(post ? { body: '{}' } : {}) });
        const body = await response.text();
        let violated = [];
        if (response.status === 429) {
          try {
            violated = JSON.parse(body)['violated-policies'] ?? [];
          } catch {
            violated = ['(unreadable body)'];
          }
        }
        record({
          ip,
          token,
          post,
          path,
          status: response.status,
          fromOrigin: response.headers.get('x-demo-origin') === '1',
          now: Number(response.headers.get('x-soak-now')),
          counted: Object.fromEntries(
            (response.headers.get('x-soak-counted') ?? '')
              .split(',')
              .filter(Boolean)
              .map((kv) => {
                const i = kv.lastIndexOf('=');
                return [kv.slice(0, i), Number(kv.slice(i + 1))];
              }),
          ),
          violated,
          rateLimit: response.headers.get('ratelimit'),
        });
      } catch (error) {
        record({
          ip,
          token,
          post,
          path,
          status: 0,
          fromOrigin: false,
          now: Date.now(),
          counted: {},
          violated: [],
          error: String(error?.cause?.code ?? error),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return sent;
}

function countBy(items, key) {
  const m = new Map();
  for (const item of items) {
    const k = key(item);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function maxOf(map) {
  let max = 0;
  for (const v of map.values()) max = Math.max(max, v);
  return max;
}

/** Refusals that also named a limit whose window had room again (reported, not a failure). */
let staleReasons = 0;

/** Checks the responses against the policy. Each check: name, limit, worst case seen, violations. */
function analyse(records) {
  // Admitted: the origin answered (its 500s included); the origin marks its responses.
  const admitted = records.filter((r) => r.fromOrigin);
  const checks = [];
  const windowOf = (r, ms) => Math.floor(r.now / ms);

  // Each admitted request is placed in the window its limit counted it in (the object's window,
  // which never goes back), not the one its own clock read fell in: a request that read the clock
  // just before a window ended and reached the object after a later one rolled it is counted in
  // the later window, where it was in fact admitted.
  // A request admitted without a limit's answer (its object call failed open) has no window there;
  // it is admitted uncounted, and reported with the faults.
  const inObjectWindow = (id) => (r) => `${r.ip}@${r.counted[id]}`;
  const decidedBy = (id) => admitted.filter((r) => r.counted[id] !== undefined);
  const fixed = countBy(decidedBy('per-ip/fixed'), inObjectWindow('per-ip/fixed'));
  checks.push({
    check: 'per-IP fixed window: admitted per key and window',
    limit: LIMITS.fixed.limit,
    worst: maxOf(fixed),
    violations: [...fixed.values()].filter((n) => n > LIMITS.fixed.limit).length,
    groups: fixed.size,
  });

  const sliding = countBy(decidedBy('per-ip/sliding'), inObjectWindow('per-ip/sliding'));
  checks.push({
    check: 'per-IP sliding window: admitted per key and window',
    limit: LIMITS.sliding.limit,
    worst: maxOf(sliding),
    violations: [...sliding.values()].filter((n) => n > LIMITS.sliding.limit).length,
    groups: sliding.size,
  });

  const kept = countBy(
    decidedBy('writes/kept').filter((r) => r.post && r.status >= 200 && r.status < 300),
    inObjectWindow('writes/kept'),
  );
  checks.push({
    check: 'POST 2xx kept (countWhen) per key and window',
    limit: LIMITS.kept.limit,
    worst: maxOf(kept),
    violations: [...kept.values()].filter((n) => n > LIMITS.kept.limit).length,
    groups: kept.size,
  });

  const everyone = countBy(admitted, (r) => windowOf(r, LIMITS.everyone.windowMs));
  checks.push({
    check: 'hot key with leases: admitted per window (request clock)',
    limit: LIMITS.everyone.limit,
    worst: maxOf(everyone),
    violations: [...everyone.values()].filter((n) => n > LIMITS.everyone.limit).length,
    groups: everyone.size,
  });

  // GCRA, as the object saw it: every admission moves the token's arrival time (tat) on by one
  // interval, and is admitted only while tat − now stays within the burst. Two admissions closer
  // than one interval would be a lost update, unless a request the token's object admitted was
  // refused under another key and its unit given back in between (each such release lets one later
  // admission take the slot again); tat − now beyond the burst is an over-admission.
  const interval = LIMITS.token.windowMs / LIMITS.token.limit;
  let tokenWorst = 0;
  let tokenViolations = 0;
  const byToken = new Map();
  for (const r of decidedBy('per-token/1s')) if (r.token >= 0) (byToken.get(r.token) ?? byToken.set(r.token, []).get(r.token)).push(r);
  const releasedOf = countBy(
    records.filter(
      (r) => r.token >= 0 && r.status === 429 && r.counted['per-token/1s'] !== undefined && !r.violated.includes('per-token/1s'),
    ),
    (r) => r.token,
  );
  for (const [token, list] of byToken) {
    list.sort((a, b) => a.counted['per-token/1s'] - b.counted['per-token/1s']);
    let close = 0;
    list.forEach((r, k) => {
      const tat = r.counted['per-token/1s'];
      const ahead = (tat - r.now) / interval;
      tokenWorst = Math.max(tokenWorst, ahead);
      const gap = k > 0 ? tat - list[k - 1].counted['per-token/1s'] : interval;
      const isClose = gap < interval - 1e-6;
      if (isClose) close++;
      if (ahead > LIMITS.token.burst + 1e-9 || (isClose && close > (releasedOf.get(token) ?? 0))) {
        if (tokenViolations++ === 0)
          console.log(
            `first GCRA violation: token ${r.token}, tat ${tat} (previous ${list[k - 1]?.counted['per-token/1s']}), now ${r.now}, ${close} close admissions against ${releasedOf.get(token) ?? 0} released units`,
          );
      }
    });
  }
  checks.push({
    check: 'per-token GCRA: burst in use after an admission; lost updates',
    limit: LIMITS.token.burst,
    worst: Number(tokenWorst.toFixed(2)),
    violations: tokenViolations,
    groups: byToken.size,
  });

  // Wrong refusals of the exact per-IP limit: a refusal naming it in a window
  // where the key's object had counted fewer than the limit. Requests refused
  // by another key were still counted by the IP key; those refused on the IP
  // key were not.
  const countedByIp = countBy(
    records.filter(
      (r) => (r.fromOrigin || r.status === 429) && !r.violated.some((v) => v.startsWith('per-ip/') || v.startsWith('writes/')),
    ),
    inObjectWindow('per-ip/fixed'),
  );
  const underLimit = (r) => (countedByIp.get(inObjectWindow('per-ip/fixed')(r)) ?? 0) < LIMITS.fixed.limit;
  // Refused by the fixed window alone while it had room: a wrong refusal.
  const wrongRefusals = records.filter(
    (r) => r.violated.includes('per-ip/fixed') && !r.violated.includes('per-ip/sliding') && underLimit(r),
  ).length;
  checks.push({
    check: 'per-IP fixed window: refused by it alone before its limit',
    limit: 0,
    worst: wrongRefusals,
    violations: wrongRefusals,
    groups: fixed.size,
  });
  // Refused by the sliding window, but also naming a fixed window that had room again: a refusal
  // answered from the deny cache keeps the reasons it was cached with until its longest wait ends.
  staleReasons = records.filter(
    (r) => r.violated.includes('per-ip/fixed') && r.violated.includes('per-ip/sliding') && underLimit(r),
  ).length;

  // The stamp is the clock the limiter decided on: the fixed window's `t` must agree with it.
  let stampMismatches = 0;
  for (const r of admitted) {
    const item = /"per-ip\/fixed";r=\d+;t=(\d+)/.exec(r.rateLimit ?? '');
    if (!item) continue;
    const expected = Math.ceil((Math.floor(r.now / LIMITS.fixed.windowMs) * LIMITS.fixed.windowMs + LIMITS.fixed.windowMs - r.now) / 1000);
    if (Number(item[1]) !== expected) stampMismatches++;
  }
  checks.push({
    check: 'decision clock stamps agree with the RateLimit header',
    limit: 0,
    worst: stampMismatches,
    violations: stampMismatches,
    groups: admitted.length,
  });

  const unexpected = records.filter(
    (r) => !((r.status === 200 && r.fromOrigin) || r.status === 429 || (r.status === 500 && r.fromOrigin && r.path === '/status/500')),
  );
  return { checks, unexpected, admitted: admitted.length };
}

function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(columns), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map((r) => line(columns.map((c) => r[c])))].join(
    '\n',
  );
}

const origin = await startOrigin(0);
const originUrl = `http://127.0.0.1:${origin.address().port}`;
console.log(
  `soak: ${DURATION_S} s, ${KEYS} client addresses (${HOT_KEYS} hot), ${TOKENS} tokens, ${CONCURRENCY} concurrent clients, loopback only${args.coalesce ? ', coalescing on' : ''}`,
);
const worker = await startWorker(originUrl);
let failed = false;
try {
  console.log(`worker on ${worker.url}, workerd pids ${worker.workerd().join(', ') || 'not found'}`);
  const samples = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    const each = worker.workerd().map(rssMb);
    samples.push({ t: (Date.now() - started) / 1000, rss: each.length ? each.reduce((a, b) => a + b, 0) : Number.NaN, each });
  }, 2000);
  const records = [];
  const sent = await drive(worker.url, started + DURATION_S * 1000, (r) => records.push(r));
  const elapsed = (Date.now() - started) / 1000;
  clearInterval(sampler);

  // Every window has ended LONGEST_ROW_MS after the last request; give the alarms a few seconds more.
  const settleStarted = Date.now();
  let storage = await storedRows(worker.state);
  while (storage.rows > 0 && Date.now() - settleStarted < LONGEST_ROW_MS + 20_000) {
    await new Promise((r) => setTimeout(r, 1000));
    storage = await storedRows(worker.state);
  }
  const emptyAfter = (Date.now() - settleStarted) / 1000;

  const { counts: metrics, faults: faultEvents } = await (await fetch(`${worker.url}/__soak/metrics`)).json();
  const faults = Object.entries(metrics).flatMap(([rule, counts]) =>
    ['fail_open', 'fail_closed'].filter((e) => counts[e]).map((e) => `${rule} ${e}: ${counts[e]}`),
  );
  const { checks, unexpected, admitted } = analyse(records);
  const statuses = [...countBy(records, (r) => (r.status === 0 ? `network error` : String(r.status))).entries()]
    .sort()
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const warm = samples.filter((s) => s.t >= WARMUP_S && Number.isFinite(s.rss));
  const third = Math.max(1, Math.floor(warm.length / 3));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const early = median(warm.slice(0, third).map((s) => s.rss));
  const late = median(warm.slice(-third).map((s) => s.rss));
  const growth = (late - early) / early;
  const memoryFlat = !JUDGE_MEMORY || (Number.isFinite(growth) && growth <= 0.15);

  console.log('\n## Traffic\n');
  console.log(
    table(
      [
        { measure: 'duration', value: `${elapsed.toFixed(1)} s (warm-up ${WARMUP_S} s)` },
        { measure: 'requests', value: `${records.length} sent ${sent}, ${(records.length / elapsed).toFixed(0)} req/s` },
        { measure: 'client addresses seen', value: new Set(records.map((r) => r.ip)).size },
        { measure: 'tokens seen', value: new Set(records.filter((r) => r.token >= 0).map((r) => r.token)).size },
        { measure: 'admitted', value: admitted },
        { measure: 'statuses', value: statuses },
        {
          measure: 'refusals by limit',
          value:
            [
              ...countBy(
                records.flatMap((r) => r.violated),
                (v) => v,
              ),
            ]
              .sort()
              .map(([v, n]) => `${v}: ${n}`)
              .join(', ') || 'none',
        },
      ],
      ['measure', 'value'],
    ),
  );
  const timeline = samples
    .filter((_s, i) => i % 15 === 0 || i === samples.length - 1)
    .map((s) => `${s.t.toFixed(0)} s: ${s.rss.toFixed(0)} MB (${s.each.map((m) => m.toFixed(0)).join(' + ')})`)
    .join(', ');
  console.log(`\nworkerd RSS over time: ${timeline}`);
  console.log('\n## Checks\n');
  console.log(
    table(
      checks.map((c) => ({ ...c, result: c.violations === 0 ? 'ok' : 'FAIL' })),
      ['check', 'limit', 'worst', 'violations', 'groups', 'result'],
    ),
  );
  console.log('\n## Errors, memory and storage\n');
  console.log(
    table(
      [
        {
          check: 'responses other than 200, 429 and the origin 500s asked for',
          value: unexpected.length,
          result: unexpected.length === 0 ? 'ok' : 'FAIL',
        },
        { check: 'refusals also naming a fixed window that had room (cached reasons)', value: staleReasons, result: 'info' },
        {
          check: 'limiter faults (fail-open admits uncounted)',
          value: faults.join(', ') || 'none',
          result: faults.length === 0 ? 'ok' : 'FAIL',
        },
        {
          check: 'workerd RSS after warm-up: early → late median (max)',
          value: `${early.toFixed(1)} → ${late.toFixed(1)} MB (${Math.max(...warm.map((s) => s.rss)).toFixed(1)}), ${(growth * 100).toFixed(1)} %`,
          result: JUDGE_MEMORY ? (memoryFlat ? 'ok' : 'FAIL') : 'info (run too short to judge)',
        },
        {
          check: 'rows left in key objects after the windows expired',
          value: `${storage.rows} rows in ${storage.objectsWithRows} of ${storage.files} objects, checked ${emptyAfter.toFixed(1)} s after the traffic`,
          result: storage.rows === 0 && storage.files > 0 ? 'ok' : 'FAIL',
        },
      ],
      ['check', 'value', 'result'],
    ),
  );
  if (faultEvents.length)
    console.log(
      '\nfirst fault events:',
      faultEvents
        .slice(0, 5)
        .map((e) => JSON.stringify(e))
        .join('\n  '),
    );
  if (unexpected.length)
    console.log(
      '\nunexpected responses:',
      [...countBy(unexpected, (r) => `${r.status} ${r.fromOrigin ? 'from the origin' : 'from the worker'} ${r.error ?? ''}`)]
        .map(([k, n]) => `${k.trim()}: ${n}`)
        .join(', '),
    );
  failed =
    checks.some((c) => c.violations > 0) ||
    faults.length > 0 ||
    unexpected.length > 0 ||
    !memoryFlat ||
    storage.rows > 0 ||
    storage.files === 0;
  console.log(`\n${failed ? 'SOAK FAILED' : 'soak passed: nothing over-admitted, nothing lost'}`);
  if (failed) console.log(`\nwrangler output (tail):\n${worker.log().slice(-3000)}`);
} finally {
  await worker.stop();
  origin.close();
}
process.exit(failed ? 1 : 0);
