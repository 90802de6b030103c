// Builds the package into dist/lib: one ESM bundle of src/index.ts (its
// dependencies, hono and cloudflare:* stay imports) and the declaration files
// from tsc. Declarations get explicit `.js` specifiers so every TypeScript
// module resolution finds them. Run by `npm pack` through `prepack`.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const target = join(root, 'dist/lib');
// Built aside and moved into place, so a concurrent `npm pack` never sees half a build.
const out = join(root, `dist/.lib-${process.pid}`);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].flatMap((name) => [
  name,
  `${name}/*`,
]);

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src/index.ts')],
  outfile: join(out, 'index.js'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  external: ['cloudflare:*', ...external],
  logLevel: 'warning',
});
try {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json'), '--outDir', out], {
    cwd: root,
    stdio: 'inherit',
  });
} catch {
  rmSync(out, { recursive: true, force: true });
  console.error('build: declarations failed (tsc output above)');
  process.exit(1);
}

/** `./x` → `./x.js`, `./dir` → `./dir/index.js`, as they exist next to the declaration. */
function withExtension(from, specifier) {
  const resolved = resolve(dirname(from), specifier);
  try {
    if (statSync(resolved).isDirectory()) return `${specifier}/index.js`;
  } catch {
    // not a directory: a module file
  }
  return `${specifier}.js`;
}

function declarations(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? declarations(join(dir, e.name)) : e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

const files = declarations(out);
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\2/g, (whole, lead, quote, specifier) =>
    /\.(js|json)$/.test(specifier) ? whole : `${lead}${quote}${withExtension(file, specifier)}${quote}`,
  );
  if (fixed !== text) writeFileSync(file, fixed);
}
// The Workers types pull in the standalone worker too; ship only what the entry reaches.
const reached = new Set();
const queue = [join(out, 'index.d.ts')];
while (queue.length > 0) {
  const file = queue.pop();
  if (reached.has(file)) continue;
  reached.add(file);
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]*?)\.js['"]/g)) {
    queue.push(resolve(dirname(file), `${specifier}.d.ts`));
  }
}
for (const file of files) if (!reached.has(file)) rmSync(file);
removeEmptyDirs(out);

function removeEmptyDirs(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeEmptyDirs(join(dir, e.name));
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}

rmSync(target, { recursive: true, force: true });
renameSync(out, target);
console.log(`ok  build dist/lib: index.js (${statSync(join(target, 'index.js')).size} bytes), ${reached.size} declaration files`);
