import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// @ts-expect-error a plain ES module without types
import { startOrigin } from '../../../scripts/demo-origin.mjs';

/** A port nobody is listening on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface DevServer {
  readonly url: string;
  readonly originUrl: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * Starts the demo origin (or takes the server `starting` gives) and `wrangler dev` in
 * front of it on free ports, with fresh local state, and waits until the
 * worker answers.
 */
export async function startDev(
  args: string[] = [],
  vars: Record<string, string> = {},
  starting: Server | Promise<Server> = startOrigin(0),
): Promise<DevServer> {
  const root = resolve(import.meta.dirname, '../../..');
  const origin = await starting;
  const originUrl = `http://127.0.0.1:${(origin.address() as { port: number }).port}`;
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'edge-ratelimit-e2e-'));
  const varArgs = Object.entries({ ORIGIN_URL: originUrl, ...vars }).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const child: ChildProcess = spawn(
    join(root, 'node_modules/.bin/wrangler'),
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      state,
      '--inspector-port',
      '0',
      '--show-interactive-dev-session=false',
      ...varArgs,
      ...args,
    ],
    {
      cwd: root,
      env: { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wrangler dev did not start within 60 s:\n${log}`);
    }
    if (/Ready on/.test(log)) {
      try {
        await fetch(`${url}/__ready`, { headers: { 'CF-Connecting-IP': '192.0.2.254' } });
        break;
      } catch {
        // not accepting connections yet
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    originUrl,
    output: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await new Promise((r) => origin.close(r));
      rmSync(state, { recursive: true, force: true });
    },
  };
}
