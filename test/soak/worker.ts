/**
 * The soak worker: the limiter with the soak policy in front of the origin,
 * exactly as `src/worker.ts` assembles it, plus an `X-Soak-Now` header with
 * the clock the limiter decided on, `X-Soak-Counted` with the window each limit
 * counted it in, and `/__soak/metrics` with the decision counters.
 */
import { Hono } from 'hono';
import { forwardToOrigin } from '../../src/http/forward';
import { rateLimit } from '../../src/http/middleware';
import { SOAK_POLICY } from './policy';

export { RateLimiter } from '../../src/durable-object/rate-limiter';

type AppEnv = { Bindings: Env };

const limiter = rateLimit({ policy: SOAK_POLICY });

const app = new Hono<AppEnv>();
app.use('*', async function stamp(c, next) {
  // The Workers clock only moves across I/O, and none happens before the
  // limiter reads it: this is the `now` the request is decided with.
  const at = Date.now();
  await next();
  c.res = new Response(c.res.body, c.res);
  c.res.headers.set('X-Soak-Now', String(at));
  // Where each limit counted the request: the end of the object's window (for GCRA, its new arrival time).
  const results = c.get('rateLimit')?.results ?? [];
  c.res.headers.set('X-Soak-Counted', results.map((r) => `${r.limit.id}=${r.decision.resetAt}`).join(','));
});
// The decision counters (fail-open events among them), read by the check after the run.
app.get('/__soak/metrics', (c) => c.json(limiter.handle.metrics.snapshot().counts));
app.use('*', limiter);
app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL, timeoutMs: 10_000 }));

export default app;
