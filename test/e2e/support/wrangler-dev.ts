import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error a plain ES module without types
import { startOrigin } from '../../../scripts/demo-origin.mjs';
// @ts-expect-error a plain ES module without types
import * as wranglerDev from '../../../scripts/wrangler-dev.mjs';

/** A running `wrangler dev`, as scripts/wrangler-dev.mjs starts it. */
interface WranglerDev {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

const startWranglerDev: (options: {
  port: number;
  persistTo: string;
  vars: Record<string, string>;
  args: string[];
  ready: (dev: WranglerDev) => Promise<boolean>;
}) => Promise<WranglerDev> = wranglerDev.startWranglerDev;

/** A port nobody is listening on right now. */
export const freePort: () => Promise<number> = wranglerDev.freePort;

export interface DevServer {
  readonly url: string;
  readonly originUrl: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Ready once wrangler says so and the worker answers a request. */
async function answering(dev: WranglerDev): Promise<boolean> {
  if (!/Ready on/.test(dev.output())) return false;
  try {
    await fetch(`${dev.url}/__ready`, { headers: { 'CF-Connecting-IP': '192.0.2.254' } });
    return true;
  } catch {
    return false; // not accepting connections yet
  }
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
  const origin = await starting;
  const originUrl = `http://127.0.0.1:${(origin.address() as { port: number }).port}`;
  const state = mkdtempSync(join(tmpdir(), 'edge-ratelimit-e2e-'));
  const dev = await startWranglerDev({
    port: await freePort(),
    persistTo: state,
    vars: { ORIGIN_URL: originUrl, ...vars },
    args,
    ready: answering,
  });
  return {
    url: dev.url,
    originUrl,
    output: dev.output,
    async stop() {
      await dev.stop();
      await new Promise((r) => origin.close(r));
      rmSync(state, { recursive: true, force: true });
    },
  };
}
