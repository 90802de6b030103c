// Writes schema/policy.schema.json, the JSON Schema of a policy, from the zod
// schema in src/policy/schema.ts. `--check` exits 1 when the committed file is
// out of date instead of writing it.
//   npm run schema

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const target = join(root, 'schema/policy.schema.json');
const dir = mkdtempSync(join(tmpdir(), 'policy-schema-'));
try {
  const out = join(dir, 'json-schema.mjs');
  await build({
    entryPoints: [join(root, 'src/policy/json-schema.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: out,
    logLevel: 'silent',
  });
  const { policyJsonSchema } = await import(pathToFileURL(out).href);
  const text = `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(target, 'utf8');
    } catch {
      // missing: out of date
    }
    if (committed !== text) {
      console.error('schema/policy.schema.json is out of date: run npm run schema');
      process.exitCode = 1;
    } else console.log('ok  schema/policy.schema.json is up to date');
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote schema/policy.schema.json (${text.length} bytes)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
