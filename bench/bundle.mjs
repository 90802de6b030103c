// Bundles a TypeScript entry of the benchmarks (and the sources it imports) for Node with esbuild, and imports it.
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles `entry` and what it imports into the ES module `outfile` and
 * imports it. `plugins` are esbuild's (bench/decide.mjs takes the sources
 * from another checkout with one).
 *
 * @example
 * const { main } = await importBundled(join(ROOT, 'bench', 'simulate', 'main.ts'), join(out, 'simulate.mjs'));
 */
export async function importBundled(entry, outfile, plugins = []) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile,
    logLevel: 'warning',
    plugins,
  });
  return import(pathToFileURL(outfile).href);
}
