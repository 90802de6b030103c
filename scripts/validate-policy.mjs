// Validates policies without running anything: every shipped preset, or the
// policy modules / JSON files given as arguments. Exits 1 naming the rule and
// field at fault.
//   npm run validate-policy                 # all presets
//   npm run validate-policy -- my-policy.json src/presets/keygen.ts

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const files = process.argv.slice(2).map((f) => resolve(f));
const dir = mkdtempSync(join(tmpdir(), 'validate-policy-'));
const entry = join(dir, 'entry.ts');
const imports = files.length
  ? files.map((f, i) => `import p${i} from ${JSON.stringify(f)};`).join('\n') +
    `\nexport const policies = [${files.map((f, i) => `[${JSON.stringify(f)}, p${i}]`).join(', ')}];`
  : `import { POLICIES } from ${JSON.stringify(join(root, 'src/presets/registry.ts'))};\nexport const policies = Object.entries(POLICIES);`;
writeFileSync(entry, `${imports}\nexport { parsePolicy } from ${JSON.stringify(join(root, 'src/policy/parse.ts'))};\n`);
const out = join(dir, 'out.mjs');
let failed = false;
try {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: out,
    logLevel: 'silent',
    loader: { '.json': 'json' },
  });
  const { policies, parsePolicy } = await import(pathToFileURL(out).href);
  for (const [source, policy] of policies) {
    const parsed = parsePolicy(policy, source);
    console.log(`ok  ${source}: policy "${parsed.name}", ${parsed.rules.length} rule(s)`);
  }
  if (files.length === 0) {
    // Every POLICY variable in wrangler.toml must name a registered policy.
    const known = new Set(policies.map(([name]) => name));
    const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
    for (const match of toml.matchAll(/POLICY\s*=\s*"([^"]*)"/g)) {
      if (!known.has(match[1]))
        throw new Error(`wrangler.toml: POLICY = "${match[1]}" is not a registered policy (${[...known].join(', ')})`);
    }
  }
} catch (error) {
  failed = true;
  console.error(error?.errors?.[0]?.text ?? error?.message ?? String(error));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
