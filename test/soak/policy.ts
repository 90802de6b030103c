import type { PolicyInput } from '../../src/policy/schema';
import limits from './limits.json';

/**
 * The soak policy: short windows (1–3 s) so the check can see every window
 * end and the storage empty afterwards, and every algorithm, two limits on
 * one key, an outcome-counted limit and a hot key with leases. The numbers
 * live in limits.json, which the check reads too.
 */
export const SOAK_POLICY = {
  name: 'soak',
  response: { headers: ['ietf', 'x-ratelimit'], body: 'problem' },
  // A local workerd on a busy machine can take longer than the 50 ms default to answer; a
  // fail-open admits uncounted, so it is given room here and every one is reported.
  onError: { mode: 'open', timeoutMs: 5000 },
  rules: [
    {
      name: 'per-ip',
      key: 'ip',
      limits: [
        { name: 'fixed', algorithm: 'fixed-window', limit: limits.fixed.limit, window: limits.fixed.windowMs },
        { name: 'sliding', algorithm: 'sliding-window', limit: limits.sliding.limit, window: limits.sliding.windowMs },
      ],
    },
    {
      name: 'per-token',
      key: 'bearer',
      limits: [{ algorithm: 'gcra', limit: limits.token.limit, window: limits.token.windowMs, burst: limits.token.burst }],
    },
    {
      name: 'writes',
      match: { methods: ['POST'] },
      key: 'ip',
      limits: [{ name: 'kept', limit: limits.kept.limit, window: limits.kept.windowMs, countWhen: { status: ['2xx'] } }],
    },
    {
      name: 'everyone',
      key: { const: 'everyone' },
      lease: { size: limits.everyone.leaseSize, ttl: '1s' },
      limits: [{ name: 'all', limit: limits.everyone.limit, window: limits.everyone.windowMs }],
    },
  ],
} satisfies PolicyInput;
