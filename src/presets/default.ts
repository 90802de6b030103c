import { definePolicy } from '../policy/parse';

/**
 * The example policy `npm start` runs: small numbers so a few `curl`s show
 * 200s turning into a 429.
 * - every caller: 10 requests per minute per client IP (sliding window);
 * - `POST /login`: 5 attempts per 10 minutes per IP, refused attempts counted;
 * - bearer-token callers: 5 requests per second with bursts of 10 per token (GCRA).
 */
export default definePolicy({
  name: 'default',
  response: { headers: ['ietf', 'x-ratelimit'], body: 'problem' },
  rules: [
    { name: 'per-ip', key: 'ip', limits: [{ algorithm: 'sliding-window', limit: 10, window: '1m' }] },
    {
      name: 'login',
      match: { methods: ['POST'], paths: ['/login'] },
      key: 'ip',
      countRefused: true,
      limits: [{ limit: 5, window: '10m' }],
      response: { message: 'Too many login attempts. Retry in {retryAfter} seconds.' },
    },
    { name: 'per-token', key: 'bearer', limits: [{ algorithm: 'gcra', limit: 5, window: '1s', burst: 10 }] },
  ],
});
