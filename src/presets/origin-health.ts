import { definePolicy } from '../policy/parse';

/**
 * The example policy of limits that follow the origin's health
 * (`POLICY=origin-health`), with small numbers so a few seconds of traffic
 * show it:
 * - 5 requests a second per client IP while the origin is healthy;
 * - when half of the origin's answers in the last 3 s (4 at least) are 5xx,
 *   or more than a tenth took longer than 1 s, or it answers 503 with
 *   `Retry-After`, that limit is halved, down to a fifth of it at most
 *   (1 a second); requests the reduced limit refuses but the full one would
 *   admit get `503` with the problem type `temporary-reduced-capacity`;
 * - the limit grows back by a tenth of it every 2 s once the origin
 *   answers well again.
 */
export default definePolicy({
  name: 'origin-health',
  response: { headers: ['ietf'], body: 'problem' },
  originHealth: {
    rules: ['per-ip'],
    window: '3s',
    minRequests: 4,
    errorRate: 0.5,
    latency: { p: 0.9, above: '1s' },
    cut: 0.5,
    recoverBy: 0.1,
    every: '2s',
    floor: 0.2,
  },
  rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 5, window: '1s' }] }],
});
