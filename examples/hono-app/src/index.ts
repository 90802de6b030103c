import { type CheckRuleInput, checkLimit, definePolicy, rateLimit } from 'edge-ratelimit';
import { Hono } from 'hono';

// The key's Durable Object: the binding in wrangler.toml names this class.
export { RateLimiter } from 'edge-ratelimit';

type Job = { tenant: string; task: string };

// Validated when the module loads: a mistake fails `wrangler dev` and the build, naming the field.
const policy = definePolicy({
  name: 'my-api',
  response: { headers: ['ietf', 'x-ratelimit'], body: 'problem' },
  // 5 requests per minute per client IP, as a token bucket: a burst of 5, then one every 12 s.
  rules: [{ name: 'per-ip', key: 'ip', limits: [{ algorithm: 'gcra', limit: 5, window: '1m' }] }],
});

// Rules for work without a request: 3 jobs per tenant per minute, one more every 20 s.
const jobRules: CheckRuleInput[] = [{ name: 'jobs', limits: [{ algorithm: 'gcra', limit: 3, window: '1m' }] }];

const app = new Hono<{ Bindings: Env }>();

// Every /api request is counted per client IP; refusals are answered with a 429 here.
app.use('/api/*', rateLimit({ policy }));

app.get('/api/hello', (c) => {
  const verdict = c.get('rateLimit');
  return c.json({ hello: 'world', remaining: verdict.results[0]?.decision.remaining });
});

app.post('/api/jobs', async (c) => {
  const job = await c.req.json<Job>();
  await c.env.JOBS.send(job);
  return c.json({ queued: job.task }, 202);
});

export default {
  fetch: app.fetch,

  // The queue consumer decides without HTTP: a tenant over its budget waits.
  async queue(batch: MessageBatch<Job>, env: Env) {
    for (const message of batch.messages) {
      const { tenant, task } = message.body;
      const check = await checkLimit({ namespace: env.RATE_LIMITER, rules: jobRules, key: tenant });
      if (check.allowed) {
        console.log(`job ${task} for ${tenant}: done, ${check.limits[0]?.remaining} left`);
        message.ack();
      } else {
        console.log(`job ${task} for ${tenant}: deferred ${check.retryAfterMs} ms`);
        message.retry({ delaySeconds: Math.ceil(check.retryAfterMs / 1000) });
      }
    }
  },
} satisfies ExportedHandler<Env, Job>;
