import { definePolicy } from '../policy/parse';

/**
 * The example policy of an API sold by monthly quota (`POLICY=quotas`):
 * - each customer (an identity record per API key, written by the billing
 *   backend) gets 100 requests a month, resetting on the `billingAnchor`
 *   their record names (the 1st of the month in UTC without one); the
 *   record's `limits` sets their plan (`{"api/month": 100000}`);
 * - the first request of a period to reach 80 % and 100 % of it emits one
 *   near-limit notification, which the worker POSTs, signed, to
 *   `NOTIFY_WEBHOOK_URL`;
 * - callers without a known key: 10 requests a minute per client IP;
 * - `GET /.well-known/ratelimit` shows a customer the period's use and end.
 */
export default definePolicy({
  name: 'quotas',
  identity: { credential: 'bearer', records: true, defaultTier: 'unknown' },
  response: { headers: ['ietf'], body: 'problem' },
  quota: { path: '/.well-known/ratelimit' },
  rules: [
    {
      name: 'api',
      match: { tiers: ['free', 'pro', 'enterprise'] },
      key: { identity: 'subject' },
      limits: [{ limit: 100, period: 'month', notify: [80, 100] }],
    },
    { name: 'per-ip', match: { tiers: ['anonymous', 'unknown'] }, key: 'ip', limits: [{ limit: 10, window: '1m' }] },
  ],
});
