// `npm run override-latency`: how long an override takes to apply, measured against `wrangler dev`
// (local Durable Objects and KV, the example policy, the demo origin), written two ways:
// - by hand, with `wrangler kv key put --local`, as an operator would without the admin API: it applies when the
//   isolate next reads live configuration (at most its 30 s cache time after the write, plus KV's own propagation);
// - through the admin API, which drops the isolate's cached snapshot, so it applies on the next request.
// The caller polls its quota endpoint (which counts nothing against its limits) every 1.1 s until its limit reads the new
// value: the example policy answers the endpoint 60 times a minute per address.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startOrigin } from './demo-origin.mjs';
import { freePort, startWranglerDev, WRANGLER_ENV } from './wrangler-dev.mjs';

const root = resolve(import.meta.dirname, '..');
const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 3);
const TOKEN = 'override-latency-secret';
/** Between two polls of the quota endpoint: the example policy answers it 60 times a minute per address. */
const POLL_MS = 1_100;

const origin = await startOrigin(0);
const state = mkdtempSync(join(tmpdir(), 'edge-ratelimit-latency-'));
let dev;
const stop = async () => {
  await dev?.stop();
  await new Promise((r) => origin.close(r));
  rmSync(state, { recursive: true, force: true });
};
try {
  dev = await startWranglerDev({
    port: await freePort(),
    persistTo: state,
    vars: { ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`, ADMIN_TOKEN: TOKEN },
    ready: (d) => /Ready on/.test(d.output()),
  });
} catch (error) {
  await stop();
  throw error;
}
const { url } = dev;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The caller's per-ip limit as its quota endpoint reports it. */
async function limitOf(ip) {
  const response = await fetch(`${url}/.well-known/ratelimit`, { headers: { 'CF-Connecting-IP': ip } });
  if (response.status !== 200) throw new Error(`the quota endpoint answered ${response.status}: ${await response.text()}`);
  const report = await response.json();
  return report.limits.find((l) => l.rule === 'per-ip')?.limit;
}

/** Polls until the caller's limit reads `expected`; milliseconds from `since`, or undefined after `maxMs`. */
async function appliedAfter(ip, expected, since, maxMs) {
  while (Date.now() - since < maxMs) {
    if ((await limitOf(ip)) === expected) return Date.now() - since;
    await sleep(POLL_MS);
  }
  return undefined;
}

const results = { kvPut: [], adminApi: [] };
try {
  // Warm the isolate: it has read live configuration once before any override is written.
  for (let i = 0; i < 5; i++) await limitOf('192.0.2.200');
  for (let run = 0; run < runs; run++) {
    const ip = `192.0.2.${10 + run}`;
    if ((await limitOf(ip)) !== 10) throw new Error('the example policy limits per-ip at 10 a minute');
    const value = JSON.stringify({ limits: [{ limit: 70 + run, window: '1m' }], reason: 'override-latency' });
    await promisify(execFile)(
      join(root, 'node_modules/.bin/wrangler'),
      ['kv', 'key', 'put', '--local', '--persist-to', state, '--binding', 'RATE_LIMIT_CONFIG', `override:per-ip:key:${ip}`, value],
      { cwd: root, env: WRANGLER_ENV },
    );
    const written = Date.now();
    results.kvPut.push(await appliedAfter(ip, 70 + run, written, 150_000));

    const viaAdmin = `192.0.2.${100 + run}`;
    const put = Date.now();
    const response = await fetch(`${url}/_ratelimit/overrides/per-ip/key/${viaAdmin}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ limits: [{ limit: 80 + run, window: '1m' }] }),
    });
    if (response.status !== 200) throw new Error(`admin API answered ${response.status}: ${await response.text()}`);
    results.adminApi.push(await appliedAfter(viaAdmin, 80 + run, put, 150_000));
  }
} finally {
  await stop();
}

const show = (list) => list.map((ms) => (ms === undefined ? 'not applied in 150 s' : `${(ms / 1000).toFixed(2)} s`)).join(', ');
console.log(`override applied after (${runs} runs, polled every ${POLL_MS / 1000} s, wrangler dev, local KV):`);
console.log(`  wrangler kv key put --local   ${show(results.kvPut)}`);
console.log(`  admin API (PUT /overrides)    ${show(results.adminApi)}`);
if ([...results.kvPut, ...results.adminApi].some((ms) => ms === undefined)) process.exitCode = 1;
