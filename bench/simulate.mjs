// `npm run simulate`: the limiter's lease and exact modes on a simulated global network
// (bench/simulate/). Bundles the TypeScript sources with esbuild, as bench/ does, and runs them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importBundled } from './bundle.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'simulate-'));
try {
  const { main } = await importBundled(join(ROOT, 'bench', 'simulate', 'main.ts'), join(out, 'simulate.mjs'));
  await main(ROOT);
} finally {
  rmSync(out, { recursive: true, force: true });
}
