import { definePolicy } from '../policy/parse';

/**
 * The example policy `npm start` runs: small numbers so a few `curl`s show
 * 200s turning into a 429.
 * - anonymous callers: 10 requests per minute per client IP (sliding window);
 * - callers with a bearer token: 5 requests per second with bursts of 10, per token (GCRA);
 * - `POST /login`: 5 attempts per 10 minutes per IP, refused attempts counted;
 * - `GET /.well-known/ratelimit` tells a caller its own budgets, without counting.
 */
export default definePolicy({
  name: 'default',
  identity: { credential: 'bearer', defaultTier: 'token' },
  response: { headers: ['ietf', 'x-ratelimit'], body: 'problem' },
  quota: { path: '/.well-known/ratelimit' },
  rules: [
    { name: 'per-ip', match: { tiers: ['anonymous'] }, key: 'ip', limits: [{ algorithm: 'sliding-window', limit: 10, window: '1m' }] },
    { name: 'per-token', match: { tiers: ['token'] }, key: 'bearer', limits: [{ algorithm: 'gcra', limit: 5, window: '1s', burst: 10 }] },
    {
      name: 'login',
      match: { methods: ['POST'], paths: ['/login'] },
      key: 'ip',
      countRefused: true,
      limits: [{ limit: 5, window: '10m' }],
      response: { message: 'Too many login attempts. Retry in {retryAfter} seconds.' },
    },
  ],
});
