import { definePolicy } from '../policy/parse';

/**
 * The example policy `npm start` runs: small numbers so a few `curl`s show
 * 200s turning into a 429.
 * - anonymous callers: 10 requests per minute per client IP (sliding window);
 * - callers with a bearer token: 5 requests per second with bursts of 10, per token (GCRA);
 * - `POST /login`: 5 attempts per 10 minutes per IP, refused attempts counted;
 * - every caller, whatever credential it presents: 600 requests per minute per
 *   client IP (sliding window). One token at its full rate spends at most 310
 *   a minute (its burst of 10, then 5 a second), so an address holding one or
 *   two real tokens never meets this ceiling; made-up tokens, each a fresh
 *   per-token bucket, cannot multiply what one address gets through;
 * - every caller: 20 answers of `401` or `403` from the origin per 10 minutes
 *   per client IP; after that, requests from the address are refused before
 *   the origin is asked, so guessing credentials stops at the edge;
 * - `/graphql`: 1000 points per minute per client IP, each request costing
 *   what the origin reports in its `X-Cost` response header (at most 1000,
 *   1 when it reports nothing usable); the header is not passed on;
 * - `/paced` and below: 5 requests per second per client IP with bursts of
 *   2 (GCRA), smoothed: a request over the burst is held, up to 1 s, and
 *   forwarded when its turn comes instead of refused; at most 4 wait per
 *   address in one isolate, and requests beyond that are refused. The
 *   anonymous per-IP window above does not count these paths;
 * - `GET /reports/*`: at most 2 requests in flight per client IP (a
 *   concurrency limit); the demo origin takes 2 s to answer a report, so a
 *   third parallel `curl` is refused with a `concurrency` 429;
 * - `GET /.well-known/ratelimit` tells a caller its own budgets, without
 *   counting them, at most 60 times a minute per client IP.
 */
export default definePolicy({
  name: 'default',
  identity: { credential: 'bearer', defaultTier: 'token' },
  response: { headers: ['ietf', 'x-ratelimit'], body: 'problem' },
  quota: { path: '/.well-known/ratelimit', perAddress: { limit: 60, window: '1m' } },
  rules: [
    {
      name: 'per-ip',
      match: { tiers: ['anonymous'], exceptPaths: ['/paced/*'] },
      key: 'ip',
      limits: [{ algorithm: 'sliding-window', limit: 10, window: '1m' }],
    },
    { name: 'per-token', match: { tiers: ['token'] }, key: 'bearer', limits: [{ algorithm: 'gcra', limit: 5, window: '1s', burst: 10 }] },
    {
      name: 'login',
      match: { methods: ['POST'], paths: ['/login'] },
      key: 'ip',
      countRefused: true,
      limits: [{ limit: 5, window: '10m' }],
      response: { message: 'Too many login attempts. Retry in {retryAfter} seconds.' },
    },
    {
      name: 'graphql',
      match: { paths: ['/graphql'] },
      key: 'ip',
      responseCost: { header: 'X-Cost', max: 1000 },
      limits: [{ name: 'points', limit: 1000, window: '1m' }],
    },
    {
      name: 'paced',
      match: { paths: ['/paced/*'] },
      key: 'ip',
      limits: [{ algorithm: 'gcra', limit: 5, window: '1s', burst: 2 }],
      smooth: { maxWait: '1s', maxQueued: 4 },
    },
    {
      name: 'reports',
      match: { methods: ['GET'], paths: ['/reports/*'] },
      key: 'ip',
      limits: [{ algorithm: 'concurrency', limit: 2 }],
      response: { message: 'Two reports are already running for your address. Retry in {retryAfter} seconds.' },
    },
    { name: 'per-address', key: 'ip', quiet: true, limits: [{ algorithm: 'sliding-window', limit: 600, window: '1m' }] },
    {
      name: 'auth-failures',
      quiet: true,
      key: 'ip',
      countResponses: { status: [401, 403] },
      limits: [{ limit: 20, window: '10m' }],
      response: { message: 'Too many failed authentications from your address. Retry in {retryAfter} seconds.' },
    },
  ],
});
