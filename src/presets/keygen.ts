import { definePolicy } from '../policy/parse';

/** The two windows Keygen names in `X-RateLimit-Window`. */
const clientWindows = [
  { name: '30s', limit: 60, window: '30s' },
  { name: '5m', limit: 500, window: '5m' },
];

/**
 * Keygen's API limits ("Rate Limiting"): enforced per token and IP
 * combination.
 *
 * - Client side (no token, or a user or license token): an IP may make 60
 *   requests per 30-second window and 500 per 5-minute window.
 * - Server side (admin, environment and product tokens, told apart by their
 *   `admin-`, `env-` and `prod-` prefixes): higher limits, 600 and 5,000
 *   here, raised per customer with overrides.
 * - Every response names the window closest to being reached, percentage-wise,
 *   in `X-RateLimit-Window` with its `-Count`, `-Limit`, `-Remaining` and
 *   `-Reset`; `Retry-After` only on a 429, whose body is a JSON:API error.
 *   Refused requests count (Keygen's example 429 shows `X-RateLimit-Count:
 *   501` of 500).
 * - "If we see patterns of abuse … the IP may be temporarily blacklisted":
 *   1,000 refusals of one client key within 5 minutes put its IP on the live
 *   block list for an hour (403), whatever token it sends then.
 *   Permanent blacklisting is the policy's `block` list.
 *
 * Not from Keygen's page, our addition (floors against made-up tokens):
 * - `address-ceiling`: 6,000 requests per 30 seconds and 50,000 per 5
 *   minutes per client address, whatever token they carry. Keygen advises a
 *   pool of tokens for a fleet behind one address, so the ceiling leaves
 *   room for a pool of 100 client tokens (or 10 server tokens) at full rate;
 *   a larger pool gets an override for its address.
 * - `auth-failures`: 100 answers of 401 or 403 per 10 minutes per client
 *   address; past that the address is refused at the edge.
 * - The server tier is told by the token's prefix alone: Keygen's tokens are
 *   opaque and only Keygen's API can tell a real `admin-` token from a
 *   made-up one. What a made-up one gets is bounded by both floors: Keygen
 *   answers it 401, so at most 100 per 10 minutes reach the API from one
 *   address, and never more than the address ceiling.
 */
export default definePolicy({
  name: 'keygen',
  // The self-service quota endpoint: callers read their own budgets without spending them.
  quota: { path: '/.well-known/ratelimit' },
  identity: {
    credential: 'authorization',
    prefixes: [{ pattern: '^Bearer (admin|env|prod)-', tier: 'server' }],
    defaultTier: 'client',
  },
  response: {
    reasonHeader: false, // Keygen's page lists every header a 429 carries: no header of ours beside them.
    headers: ['x-ratelimit-window', 'x-ratelimit-count', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    headersOn: 'always',
    body: 'jsonapi',
    title: 'Too many requests',
    message: 'Throttle limit has been reached for your IP address.',
    code: 'TOO_MANY_REQUESTS',
    blockedMessage: 'Your IP address has been temporarily blocked because of abuse.',
  },
  rules: [
    {
      // Not from Keygen's page: our addition (see above).
      name: 'address-ceiling',
      quiet: true,
      key: 'ip',
      limits: [
        { name: '30s', limit: 6_000, window: '30s' },
        { name: '5m', limit: 50_000, window: '5m' },
      ],
    },
    {
      // Not from Keygen's page: our addition. Answers of 401 or 403 from the origin, per client address:
      // past 100 in 10 minutes the address is refused before the origin is asked, so made-up
      // credentials stop costing the origin an authentication each.
      name: 'auth-failures',
      quiet: true,
      key: 'ip',
      countResponses: { status: [401, 403] },
      limits: [{ name: '10m', limit: 100, window: '10m' }],
    },
    {
      name: 'client-ip',
      match: { tiers: ['anonymous'] },
      key: 'ip',
      countRefused: true,
      limits: clientWindows,
      ban: { after: 1_000, within: '5m', duration: '1h', blockAddress: true },
    },
    {
      name: 'client-token',
      match: { tiers: ['client'] },
      key: ['authorization', 'ip'],
      countRefused: true,
      limits: clientWindows,
      ban: { after: 1_000, within: '5m', duration: '1h', blockAddress: true },
    },
    {
      name: 'server-token',
      match: { tiers: ['server'] },
      key: ['authorization', 'ip'],
      countRefused: true,
      limits: [
        { name: '30s', limit: 600, window: '30s' },
        { name: '5m', limit: 5_000, window: '5m' },
      ],
    },
  ],
});
