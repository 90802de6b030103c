// `npm run replay -- --policy <file or preset> --records <file.ndjson>`: runs a candidate
// policy over recorded traffic (the policy's `trafficRecord` lines) with the limiter's own
// rule matching and algorithms, on the records' clock, and reports per rule and limit what
// it would have refused. Bundles the TypeScript sources with esbuild, as the other scripts do.
//
//   --policy <p>        a preset name (default, cloudsmith, rubygems, fluidcloud, keygen),
//                       a JSON policy file, or a TypeScript/JavaScript module exporting one by default
//   --records <file>    newline-delimited JSON: traffic records, Workers Logs lines or Logpush
//                       Workers Trace Events (.gz is read as gzip); give it more than once, or "-" for stdin
//   --html <file>       also write an HTML report with refusals charted over time
//   --json <file>       also write the report as JSON
//   --bucket <d>        width of the chart's time buckets (default 1h)
//   --top <n>           most refused keys listed per limit (default 10)

import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { build } from 'esbuild';

const USAGE =
  'usage: npm run replay -- --policy <file or preset> --records <file.ndjson> [--records <more>] [--html report.html] [--json report.json] [--bucket 1h] [--top 10]';

let args;
try {
  args = parseArgs({
    options: {
      policy: { type: 'string' },
      records: { type: 'string', multiple: true },
      html: { type: 'string' },
      json: { type: 'string' },
      bucket: { type: 'string', default: '1h' },
      top: { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help || !args.policy || !args.records?.length) {
  console.error(USAGE);
  process.exit(args.help ? 0 : 2);
}

const ROOT = resolve(import.meta.dirname, '..');
const src = (path) => JSON.stringify(join(ROOT, 'src', path));
const policyIsFile = /\.(json|ts|mts|js|mjs)$/.test(args.policy);
const dir = mkdtempSync(join(tmpdir(), 'replay-'));
const entry = join(dir, 'entry.ts');
writeFileSync(
  entry,
  [
    policyIsFile
      ? `export { default as policyModule } from ${JSON.stringify(resolve(args.policy))};`
      : 'export const policyModule = undefined;',
    `export { POLICIES } from ${src('presets/registry.ts')};`,
    `export { parsePolicy } from ${src('policy/parse.ts')};`,
    `export { parseDuration } from ${src('policy/duration.ts')};`,
    `export { parseTrafficRecord, recordsInLogLine } from ${src('traffic/record.ts')};`,
    `export { Replay } from ${src('replay/replay.ts')};`,
    `export { formatReplayTable } from ${src('replay/report-table.ts')};`,
    `export { replayHtml } from ${src('replay/report-html.ts')};`,
  ].join('\n'),
);

let exitCode = 0;
try {
  const out = join(dir, 'replay.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    logLevel: 'warning',
    loader: { '.json': 'json' },
  });
  const lib = await import(pathToFileURL(out).href);

  const input = policyIsFile ? lib.policyModule : lib.POLICIES[args.policy];
  if (input === undefined)
    throw new Error(
      `--policy: "${args.policy}" is neither a policy file (.json, .ts, .js) nor a preset (${Object.keys(lib.POLICIES).join(', ')})`,
    );
  const policy = lib.parsePolicy(input, args.policy);
  const bucketMs = lib.parseDuration(args.bucket);
  if (!bucketMs || bucketMs <= 0) throw new Error(`--bucket: "${args.bucket}" is not a duration such as 15m or 1h`);
  const top = Number(args.top);
  if (!Number.isInteger(top) || top < 1) throw new Error(`--top: "${args.top}" is not a positive whole number`);

  const replay = new lib.Replay(policy, { bucketMs, topKeys: top });
  let skipped = 0;
  const problems = [];
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (const file of args.records) {
    let stream = file === '-' ? process.stdin : createReadStream(file);
    if (file.endsWith('.gz')) stream = stream.pipe(createGunzip());
    let lineNo = 0;
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      lineNo++;
      if (line.length === 0) continue;
      try {
        for (const raw of lib.recordsInLogLine(JSON.parse(line))) replay.add(lib.parseTrafficRecord(raw));
      } catch (error) {
        skipped++;
        if (problems.length < 5) problems.push(`${file}:${lineNo}: ${error.message}`);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const report = replay.report();

  console.log(lib.formatReplayTable(report));
  if (skipped > 0) console.error(`\nSkipped ${skipped} unreadable lines, for example:\n  ${problems.join('\n  ')}`);
  console.error(
    `\nReplayed ${report.records} records in ${seconds.toFixed(1)} s (${Math.round(report.records / Math.max(seconds, 1e-9))} records/s; ${cpuSeconds.toFixed(1)} s of CPU, ${Math.round(report.records / Math.max(cpuSeconds, 1e-9))} records per CPU second).`,
  );
  if (args.html) {
    writeFileSync(args.html, lib.replayHtml(report));
    console.error(`HTML report: ${args.html}`);
  }
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
    console.error(`JSON report: ${args.json}`);
  }
} catch (error) {
  exitCode = 1;
  console.error(error?.errors?.[0]?.text ?? error?.message ?? String(error));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
