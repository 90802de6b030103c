#!/usr/bin/env node
// Every relative link and #anchor in the repository's markdown files must resolve:
// the file or folder must exist, and an anchor must name a heading (GitHub's slug)
// or an HTML id of the target file. External links (https:, mailto:) are not fetched.
//
//   node scripts/check-links.mjs [--allow-missing <path from the repository root>]...
//
// --allow-missing accepts a link to a file that is not in this tree (its anchors are
// checked once it is). Exit code 1 and one line per broken link when any fails.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP_DIRS = new Set(['node_modules', '.git', '.wrangler', 'dist', 'coverage']);

const allowMissing = new Set();
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--allow-missing' && args[i + 1]) allowMissing.add(resolve(root, args[++i]));
  else {
    console.error(`check-links: unknown argument "${args[i]}" (use --allow-missing <path>)`);
    process.exit(2);
  }
}

/** Markdown files under `dir`, skipping dependencies, build output and local state. */
function markdownFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) files.push(...markdownFiles(join(dir, entry.name)));
    } else if (entry.name.endsWith('.md')) {
      files.push(join(dir, entry.name));
    }
  }
  return files;
}

/** The file's lines with fenced code blocks blanked, so their contents are neither links nor headings. */
function proseLines(text) {
  let fence = null;
  return text.split('\n').map((line) => {
    const opening = line.match(/^\s{0,3}(`{3,}|~{3,})/);
    if (fence) {
      if (opening && opening[1][0] === fence[0] && opening[1].length >= fence.length) fence = null;
      return '';
    }
    if (opening) {
      fence = opening[1];
      return '';
    }
    return line;
  });
}

/** GitHub's heading slug: the rendered text lower-cased, punctuation dropped, spaces as hyphens. */
function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorCache = new Map();
/** The anchors a markdown file defines: heading slugs (repeats numbered as GitHub does) and HTML ids. */
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const anchors = new Set();
  const seen = new Map();
  for (const line of proseLines(readFileSync(file, 'utf8'))) {
    const heading = line.match(/^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/);
    if (heading) {
      const base = slug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const html of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(html[1]);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** Link targets in one line of prose: inline links and images, and reference definitions. */
function targetsIn(line) {
  const prose = line.replace(/(`+)[^`]*?\1/g, (code) => ' '.repeat(code.length));
  const targets = [];
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]);
  const definition = prose.match(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/);
  if (definition) targets.push(definition[1]);
  return targets;
}

const problems = [];
let checked = 0;
for (const file of markdownFiles(root)) {
  const lines = proseLines(readFileSync(file, 'utf8'));
  lines.forEach((line, i) => {
    for (const target of targetsIn(line)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      checked++;
      const where = `${relative(root, file).split(sep).join('/')}:${i + 1}`;
      const hash = target.indexOf('#');
      const pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
      const resolved = pathPart === '' ? file : resolve(dirname(file), pathPart);
      if (!existsSync(resolved)) {
        if (!allowMissing.has(resolved)) problems.push(`${where}: ${target}: no such file or folder`);
        continue;
      }
      if (pathPart.endsWith('/') && !statSync(resolved).isDirectory()) {
        problems.push(`${where}: ${target}: not a folder`);
        continue;
      }
      if (anchor === null || anchor === '') continue;
      if (!resolved.endsWith('.md')) continue;
      if (!anchorsOf(resolved).has(anchor))
        problems.push(`${where}: ${target}: no heading or id "${anchor}" in ${relative(root, resolved)}`);
    }
  });
}

if (problems.length > 0) {
  console.error(`check-links: ${problems.length} broken link(s):`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log(`check-links: ${checked} relative links resolve`);
