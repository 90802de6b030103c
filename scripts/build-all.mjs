// Builds the worker bundle for the default environment and every [env.*] in
// wrangler.toml with `wrangler deploy --dry-run`, so a bundle that would not
// deploy fails CI.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const toml = readFileSync(resolve(root, 'wrangler.toml'), 'utf8');
const envs = [...new Set([...toml.matchAll(/^\[env\.([A-Za-z0-9_-]+)[\].]/gm)].map((m) => m[1]))];
for (const env of [undefined, ...envs]) {
  const args = ['wrangler', 'deploy', '--dry-run', '--outdir', `dist/${env ?? 'default'}`, ...(env ? ['--env', env] : [])];
  execFileSync('npx', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`ok  bundle ${env ?? 'default'}`);
}
