import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { forwardToOrigin } from '../../src/http/forward';
import { type RateLimitOptions, rateLimit } from '../../src/http/middleware';

/** A clock tests move by hand. */
export function manualClock(start: number) {
  let now = start;
  return {
    now: () => now,
    set: (t: number) => {
      now = t;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/**
 * The worker's own pieces, assembled as the standalone worker assembles them,
 * with a policy and clock of the test's choosing, in front of the real test origin.
 */
export function limitedApp(options: RateLimitOptions) {
  const limiter = rateLimit(options);
  const app = new Hono();
  app.use('*', limiter);
  app.all('*', (c) => forwardToOrigin(c, { originUrl: env.ORIGIN_URL }));
  return { app, limiter };
}

/** Sends a request from a client address through an app with the test bindings. */
export function send(app: Hono, path: string, ip: string, init: RequestInit = {}, bindings: object = env) {
  const headers = new Headers(init.headers);
  if (!headers.has('CF-Connecting-IP')) headers.set('CF-Connecting-IP', ip);
  return app.request(`http://api.example.test${path}`, { ...init, headers }, bindings);
}

/** Addresses in 198.18.0.0/15 (benchmarking space): 131,072 of them. */
const SPACE = 131_072;
// Test files may run side by side against one Durable Object store, so each starts at its own random point.
let counter = crypto.getRandomValues(new Uint32Array(1))[0]! % SPACE;
/** A client address no other test of this file uses, and most likely no other file. */
export function freshIp(): string {
  counter = (counter + 1) % SPACE;
  return `198.${18 + (counter >> 16)}.${(counter >> 8) & 255}.${counter & 255}`;
}
