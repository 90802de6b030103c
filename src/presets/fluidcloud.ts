import { definePolicy } from '../policy/parse';

/**
 * FluidCloud's partner API limits ("Rate limits"): every limit is per API
 * key (`X-API-Key`) on a fixed 60-second window, so `Retry-After` is the
 * seconds until the window rolls over and never more than 60.
 *
 * - every request: 600 per minute per key (the global cap);
 * - `POST /shares`: 120 per minute; `POST /uploads`: 300 per minute;
 *   `POST /uploads/import-url`: 30 per minute.
 *
 * The caps are separate rules, so each is counted under its own key object,
 * independently of the global cap and of each other: spending the share cap
 * never spends the upload cap. A request refused by one cap is not counted by
 * the others. Requests without a key are limited per client IP at the global
 * rate, so they cannot reach the origin unbounded either. A 429 carries only
 * `Retry-After` and `{"detail": "Too many requests — please slow down and try
 * again shortly."}`.
 *
 * Not from FluidCloud's page, our addition (floors against made-up keys, each
 * of which would otherwise open fresh per-key budgets, the 30-a-minute
 * `import-url` cap included):
 * - `address-ceiling`: 1,200 requests per 60 seconds per client address,
 *   whatever key they carry: two keys at the global cap;
 * - `auth-failures`: 100 answers of 401 or 403 per 10 minutes per client
 *   address; past that the address is refused at the edge.
 */
export default definePolicy({
  name: 'fluidcloud',
  // The self-service quota endpoint: callers read their own budgets without spending them.
  quota: { path: '/.well-known/ratelimit' },
  identity: { credential: { header: 'X-API-Key' }, defaultTier: 'partner' },
  response: {
    reasonHeader: false, // FluidCloud's 429 carries only Retry-After: no header of ours beside them.
    headers: [],
    body: 'detail',
    message: 'Too many requests — please slow down and try again shortly.',
  },
  rules: [
    // Not from FluidCloud's page: our addition (see above).
    { name: 'address-ceiling', key: 'ip', quiet: true, limits: [{ name: '60s', limit: 1_200, window: '60s' }] },
    {
      // Not from FluidCloud's page: our addition. Answers of 401 or 403 from the origin, per client address:
      // past 100 in 10 minutes the address is refused before the origin is asked, so made-up
      // credentials stop costing the origin an authentication each.
      name: 'auth-failures',
      quiet: true,
      key: 'ip',
      countResponses: { status: [401, 403] },
      limits: [{ name: '10m', limit: 100, window: '10m' }],
    },
    { name: 'per-key', match: { tiers: ['partner'] }, key: { header: 'X-API-Key' }, limits: [{ name: '60s', limit: 600, window: '60s' }] },
    {
      name: 'create-share',
      match: { methods: ['POST'], paths: ['/shares', '/api/v1/shares'] },
      key: { header: 'X-API-Key' },
      limits: [{ name: '60s', limit: 120, window: '60s' }],
    },
    {
      name: 'start-upload',
      match: { methods: ['POST'], paths: ['/uploads', '/api/v1/uploads'] },
      key: { header: 'X-API-Key' },
      limits: [{ name: '60s', limit: 300, window: '60s' }],
    },
    {
      name: 'import-url',
      match: { methods: ['POST'], paths: ['/uploads/import-url', '/api/v1/uploads/import-url'] },
      key: { header: 'X-API-Key' },
      limits: [{ name: '60s', limit: 30, window: '60s' }],
    },
    { name: 'keyless', match: { tiers: ['anonymous'] }, key: 'ip', limits: [{ name: '60s', limit: 600, window: '60s' }] },
  ],
});
