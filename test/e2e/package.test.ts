import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const example = join(root, 'examples/hono-app');
const bin = join(root, 'node_modules/.bin');
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };

let work: string;
let scratch: string;
let scratchWorkersTypes: string;
let tarball: string;
let packed: string[];
let installedWith: 'npm' | 'links';

/**
 * The other way a worker gets its runtime types: the `@cloudflare/workers-types`
 * package instead of `wrangler types`, with `Env` declared by hand. docs/library.md
 * shows both files as they are.
 */
const workersTypesConfig = `{
  "compilerOptions": {
    "target": "ES2023",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "lib": ["ES2023"],
    "types": ["@cloudflare/workers-types"],
    "strict": true,
    "skipLibCheck": false,
    "noEmit": true
  },
  "include": ["src"]
}
`;
const workersTypesEnv = `import type { RateLimiter } from 'edge-ratelimit';

declare global {
  interface Env {
    RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
    JOBS: Queue<{ tenant: string; task: string }>;
  }
}
`;

/**
 * Installs the tarball, hono and any `extra` packages with npm, preferring its
 * cache. Without a registry, unpacks the tarball by hand and links the
 * dependencies it declares (and the extras) from this project, so the test
 * still proves the declared dependencies suffice.
 */
async function install(dir: string, extra: string[] = []): Promise<'npm' | 'links'> {
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, 'hono', ...extra], {
      cwd: dir,
      env,
      timeout: 120_000,
    });
    return 'npm';
  } catch {
    const target = join(dir, 'node_modules', pkg.name);
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { env });
    const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { dependencies?: object; peerDependencies?: object };
    for (const dep of [...Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }), ...extra]) {
      const link = join(dir, 'node_modules', dep);
      mkdirSync(resolve(link, '..'), { recursive: true });
      symlinkSync(join(root, 'node_modules', dep), link, 'dir');
    }
    return 'links';
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'edge-ratelimit-pack-'));
  // `npm pack` runs `prepack`, which builds dist/lib.
  await run('npm', ['pack', '--pack-destination', work], { cwd: root, env, timeout: 180_000, maxBuffer: 16 << 20 });
  const name = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!name) throw new Error('npm pack wrote no tarball');
  tarball = join(work, name);
  packed = (await run('tar', ['-tzf', tarball])).stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));

  // A scratch worker of its own: the example's wrangler.toml, tsconfig.json and source, and the packed package.
  scratch = join(work, 'app');
  mkdirSync(join(scratch, 'src'), { recursive: true });
  for (const file of ['wrangler.toml', 'tsconfig.json', 'src/index.ts']) cpSync(join(example, file), join(scratch, file));
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-worker', private: true, type: 'module' }));
  installedWith = await install(scratch);
  console.info(`installed the tarball with ${installedWith === 'npm' ? 'npm' : 'its dependencies linked from this project (no registry)'}`);
  await run(join(bin, 'wrangler'), ['types'], { cwd: scratch, env, timeout: 120_000 });

  // The same worker typed by @cloudflare/workers-types: no `wrangler types`, `Env` declared in src/env.d.ts.
  scratchWorkersTypes = join(work, 'app-workers-types');
  mkdirSync(join(scratchWorkersTypes, 'src'), { recursive: true });
  for (const file of ['wrangler.toml', 'src/index.ts']) cpSync(join(example, file), join(scratchWorkersTypes, file));
  writeFileSync(join(scratchWorkersTypes, 'tsconfig.json'), workersTypesConfig);
  writeFileSync(join(scratchWorkersTypes, 'src/env.d.ts'), workersTypesEnv);
  writeFileSync(
    join(scratchWorkersTypes, 'package.json'),
    JSON.stringify({ name: 'scratch-worker-workers-types', private: true, type: 'module' }),
  );
  const workersTypesWith = await install(scratchWorkersTypes, ['@cloudflare/workers-types']);
  console.info(
    `installed the tarball and @cloudflare/workers-types with ${workersTypesWith === 'npm' ? 'npm' : 'links to this project (no registry)'}`,
  );
}, 400_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the library guide (docs/library.md)', () => {
  it('shows the example worker exactly as it is tested: its wrangler.toml and its code', () => {
    const section = readFileSync(join(root, 'docs/library.md'), 'utf8');
    expect(section).toContain(`\`\`\`toml\n${readFileSync(join(example, 'wrangler.toml'), 'utf8')}\`\`\``);
    expect(section).toContain(`\`\`\`ts\n${readFileSync(join(example, 'src/index.ts'), 'utf8')}\`\`\``);
  });

  it('shows the tsconfig.json and dev dependencies that type-check it, with wrangler types or with @cloudflare/workers-types', () => {
    const guide = readFileSync(join(root, 'docs/library.md'), 'utf8');
    const section = guide.slice(0, guide.indexOf('## The admin API and dashboard in your worker'));
    expect(section).toContain(`\`\`\`json\n${readFileSync(join(example, 'tsconfig.json'), 'utf8')}\`\`\``);
    const devDependencies = Object.keys(JSON.parse(readFileSync(join(example, 'package.json'), 'utf8')).devDependencies);
    for (const dep of devDependencies) expect(section).toMatch(new RegExp(`npm install --save-dev [^\\n]*\\b${dep}\\b`));
    expect(section).toContain(`\`\`\`json\n${workersTypesConfig}\`\`\``);
    expect(section).toContain(`\`\`\`ts\n${workersTypesEnv}\`\`\``);
  });
});

describe('the packed package', () => {
  it('holds the ESM bundle, its declarations, the policy JSON Schema, the README and the changelog, and nothing else', () => {
    expect(packed).toContain('README.md');
    expect(packed).toContain('CHANGELOG.md');
    expect(packed).toContain('dist/lib/index.js');
    expect(packed).toContain('dist/lib/index.d.ts');
    expect(packed).toContain('dist/lib/http/middleware.d.ts');
    expect(packed).toContain('schema/policy.schema.json');
    expect(packed).toContain('package.json');
    const unexpected = packed.filter(
      (f) => !/^(dist\/lib\/.+\.(js|d\.ts)|schema\/policy\.schema\.json|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(f),
    );
    expect(unexpected).toEqual([]);
    expect(packed.filter((f) => /test|worker\.d\.ts|presets/.test(f))).toEqual([]);
  });

  it('resolves through its exports map to the ESM entry and the JSON Schema', async () => {
    const script =
      "console.log(import.meta.resolve('edge-ratelimit')); console.log(import.meta.resolve('edge-ratelimit/schema/policy.schema.json'))";
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, env });
    const [entry, schema] = stdout.trim().split('\n');
    expect(entry).toMatch(/\/node_modules\/edge-ratelimit\/dist\/lib\/index\.js$/);
    expect(schema).toMatch(/\/node_modules\/edge-ratelimit\/schema\/policy\.schema\.json$/);
    const manifest = JSON.parse(readFileSync(join(scratch, 'node_modules/edge-ratelimit/package.json'), 'utf8'));
    expect(manifest.peerDependencies).toEqual({ hono: expect.any(String) });
    expect(Object.keys(manifest.dependencies)).not.toContain('hono');
  });

  it(`type-checks the scratch worker against the installed declarations (tsc, no skipLibCheck)`, async () => {
    const result = await run(join(bin, 'tsc'), ['--noEmit', '-p', scratch], { cwd: scratch, env }).then(
      () => ({ ok: true, output: '' }),
      (error: { stdout?: string }) => ({ ok: false, output: error.stdout ?? String(error) }),
    );
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('type-checks the same worker typed by @cloudflare/workers-types instead of wrangler types (tsc, no skipLibCheck)', async () => {
    const result = await run(join(bin, 'tsc'), ['--noEmit', '-p', scratchWorkersTypes], { cwd: scratchWorkersTypes, env }).then(
      () => ({ ok: true, output: '' }),
      (error: { stdout?: string }) => ({ ok: false, output: error.stdout ?? String(error) }),
    );
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('resolves its declarations under node16 too, with real types rather than any', async () => {
    const probe = join(scratch, 'probe');
    mkdirSync(probe, { recursive: true });
    writeFileSync(
      join(probe, 'probe.ts'),
      [
        "import { checkLimit, gcra, type LimitCheck, type Verdict } from 'edge-ratelimit';",
        "export const remaining: number = gcra.peek(undefined, 0, { algorithm: 'gcra', limit: 1, windowMs: 1000 }).remaining;",
        "export const kind: LimitCheck['kind'] = 'unavailable';",
        '// @ts-expect-error verdict kinds are a closed set',
        "export const wrong: Verdict['kind'] = 'nonsense';",
        'export const check: typeof checkLimit = checkLimit;',
      ].join('\n'),
    );
    // skipLibCheck: wrangler's generated Env file itself does not compile under node16.
    const args = [
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2023',
      '--skipLibCheck',
      '--types',
      join(scratch, 'worker-configuration.d.ts'),
      join(probe, 'probe.ts'),
    ];
    const output = await run(join(bin, 'tsc'), args, { cwd: scratch, env }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(output).toBe('');
  });

  it('declarations name their modules with .js, so node16 resolution finds them too', () => {
    const declarations = packed.filter((f) => f.endsWith('.d.ts'));
    const dir = join(scratch, 'node_modules/edge-ratelimit');
    const bare = declarations
      .flatMap((f) =>
        [...readFileSync(join(dir, f), 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]*)['"]/g)].map((m) => m[1]!),
      )
      .filter((s) => !s.endsWith('.js'));
    expect(bare).toEqual([]);
  });
});

describe('the example worker, installed from the tarball, in workerd', () => {
  let child: ChildProcess;
  let log = '';
  let url: string;

  beforeAll(async () => {
    const state = join(work, 'state');
    child = spawn(
      join(bin, 'wrangler'),
      ['dev', '--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0', '--persist-to', state, '--show-interactive-dev-session=false'],
      {
        cwd: scratch,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    url = await waitFor(() => /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1], 'wrangler dev to start');
  }, 90_000);

  afterAll(async () => {
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });

  /** Polls until `probe` gives a value, for at most 60 s; the message says what was awaited. */
  async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
    for (let i = 0; i < 240; i++) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited while waiting for ${what}:\n${log}`);
      const value = probe();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`gave up waiting for ${what}:\n${log}`);
  }

  const hello = (ip: string) => fetch(`${url}/api/hello`, { headers: { 'CF-Connecting-IP': ip } });

  it(`answers 200s until the per-IP limit, then a 429 with Retry-After, rate-limit headers and a problem body`, async () => {
    const ip = '203.0.113.10';
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 5; i++) {
      const response = await hello(ip);
      expect(response.status).toBe(200);
      remaining.push(response.headers.get('X-RateLimit-Remaining'));
      // The handler reads the verdict from the typed context variable. A token bucket has no window edge to cross mid-test.
      expect(await response.json()).toEqual({ hello: 'world', remaining: 4 - i });
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);

    const refused = await hello(ip);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('Retry-After'));
    // One request's worth refills every 12 s.
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 12).toBe(true);
    expect(refused.headers.get('RateLimit-Policy')).toBe('"per-ip/1m";q=5;w=60');
    expect(refused.headers.get('RateLimit')).toBe(`"per-ip/1m";r=0;t=${retryAfter}`);
    expect(refused.headers.get('X-RateLimit-Limit')).toBe('5');
    expect(refused.headers.get('X-RateLimit-Remaining')).toBe('0');
    expect(refused.headers.get('Content-Type')).toBe('application/problem+json');
    expect(await refused.json()).toMatchObject({ status: 429, 'violated-policies': ['per-ip/1m'] });

    const other = await hello('203.0.113.11');
    expect(other.status).toBe(200);
    expect(other.headers.get('X-RateLimit-Remaining')).toBe('4');
  });

  it('leaves routes outside the middleware unlimited', async () => {
    const response = await fetch(`${url}/elsewhere`, { headers: { 'CF-Connecting-IP': '203.0.113.10' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('RateLimit')).toBeNull();
  });

  it('the queue consumer decides with checkLimit: a burst of 3 jobs per tenant, the 4th deferred', async () => {
    for (let i = 1; i <= 4; i++) {
      const response = await fetch(`${url}/api/jobs`, {
        method: 'POST',
        headers: { 'CF-Connecting-IP': `203.0.113.${20 + i}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: 'acme', task: `t${i}` }),
      });
      expect(response.status).toBe(202);
    }
    const lines = await waitFor(() => {
      const found = log.split('\n').filter((l) => l.startsWith('job '));
      return found.length >= 4 ? found : undefined;
    }, 'the queue consumer');
    expect(lines.slice(0, 3)).toEqual(['job t1 for acme: done, 2 left', 'job t2 for acme: done, 1 left', 'job t3 for acme: done, 0 left']);
    // A bucket of 3 refilling one every 20 s: the 4th waits for the first refill.
    const deferredMs = Number(/^job t4 for acme: deferred (\d+) ms$/.exec(lines[3]!)?.[1]);
    expect(deferredMs > 0 && deferredMs <= 20_000).toBe(true);
  });
});
