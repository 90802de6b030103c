// `npm run simulate`: the limiter's lease and exact modes on a simulated global network
// (bench/simulate/). Bundles the TypeScript sources with esbuild, as bench/ does, and runs them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'simulate-'));
try {
  const file = join(out, 'simulate.mjs');
  await build({
    entryPoints: [join(ROOT, 'bench', 'simulate', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: file,
    logLevel: 'warning',
  });
  const { main } = await import(pathToFileURL(file).href);
  await main(ROOT);
} finally {
  rmSync(out, { recursive: true, force: true });
}
