// `wrangler dev` on a free loopback port, for the scripts and end-to-end tests that run the worker locally:
// scripts/override-latency.mjs, scripts/soak.mjs and test/e2e/support/wrangler-dev.ts.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** The environment wrangler runs in: the project's own binaries first, no metrics, no prompts. */
export const WRANGLER_ENV = {
  ...process.env,
  PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: 'false',
  CI: 'true',
};

/** A port free right now on 127.0.0.1. */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * Starts `wrangler dev` in the project on 127.0.0.1:`port`, its local state in
 * `persistTo`, with `vars` as `--var`s and `args` after them, then polls
 * `ready(dev)` every `everyMs` until it answers true. Throws with wrangler's
 * output when wrangler exits first or `withinMs` passes (killing it then).
 * `keepLog` bounds the output kept (its last characters).
 *
 * @example
 * const dev = await startWranglerDev({ port, persistTo: state, vars: { ORIGIN_URL: originUrl }, ready: (d) => /Ready on/.test(d.output()) });
 */
export async function startWranglerDev({
  port,
  persistTo,
  vars = {},
  args = [],
  ready,
  withinMs = 60_000,
  everyMs = 250,
  keepLog = Number.POSITIVE_INFINITY,
}) {
  const child = spawn(
    join(ROOT, 'node_modules/.bin/wrangler'),
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      persistTo,
      '--inspector-port',
      '0',
      '--show-interactive-dev-session=false',
      ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
      ...args,
    ],
    { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const keep = (d) => (log = (log + d).slice(-keepLog));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const dev = {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    output: () => log,
    /** Stops wrangler (when it still runs) and waits until it has exited. */
    async stop() {
      if (exited()) return;
      child.kill('SIGTERM');
      await new Promise((r) => (exited() ? r() : child.once('exit', r)));
    },
  };
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (exited()) throw new Error(`wrangler dev exited:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wrangler dev did not start within ${withinMs / 1000} s:\n${log}`);
    }
    if (await ready(dev)) return dev;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
