/**
 * The soak worker: the limiter with the soak policy in front of the origin,
 * exactly as `src/worker.ts` assembles it, plus an `X-Soak-Now` header with
 * the clock the limiter decided on, `X-Soak-Counted` with the window each limit
 * counted it in, and `/__soak/metrics` with the decision counters.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Hono } from 'hono';
import { forwardToOrigin } from '../../src/http/forward';
import { rateLimit } from '../../src/http/middleware';
import { SOAK_POLICY } from './policy';

export { RateLimiter } from '../../src/durable-object/rate-limiter';

type AppEnv = { Bindings: Env };

// The clock each request was decided with, read where the limiter reads it (a stamp taken
// earlier could be a loaded machine's scheduling pause away from it).
const decidedAt = new AsyncLocalStorage<{ at?: number }>();
const clock = () => {
  const at = Date.now();
  const store = decidedAt.getStore();
  if (store) store.at = at;
  return at;
};

// As shipped, and with the opt-in coalescing of concurrent calls (`SOAK_COALESCE=on`).
const limiters = {
  on: rateLimit({ policy: SOAK_POLICY, coalesce: true, now: clock }),
  off: rateLimit({ policy: SOAK_POLICY, now: clock }),
};
const pick = (env: Env) => ((env as Env & { SOAK_COALESCE?: string }).SOAK_COALESCE === 'on' ? limiters.on : limiters.off);

// The limiter's fault events (one JSON log line each), kept so the check can say what failed.
const faults: unknown[] = [];
const log = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('{"event":"fail_') && faults.length < 20) faults.push(JSON.parse(args[0]));
  log(...args);
};

const app = new Hono<AppEnv>();
app.use('*', async function stamp(c, next) {
  const store: { at?: number } = {};
  await decidedAt.run(store, next);
  c.res = new Response(c.res.body, c.res);
  c.res.headers.set('X-Soak-Now', String(store.at ?? Date.now()));
  // Where each limit counted the request: the end of the object's window (for GCRA, its new arrival time).
  const results = c.get('rateLimit')?.results ?? [];
  c.res.headers.set('X-Soak-Counted', results.map((r) => `${r.limit.id}=${r.decision.resetAt}`).join(','));
});
// The decision counters (fail-open events among them), read by the check after the run.
app.get('/__soak/metrics', (c) => c.json({ counts: pick(c.env).handle.metrics.snapshot().counts, faults }));
app.use('*', (c, next) => pick(c.env)(c, next));
app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL, timeoutMs: 10_000 }));

export default app;
