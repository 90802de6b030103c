import { definePolicy } from '../policy/parse';

/** Native package-format endpoints ("Package Metadata APIs"), one host per format. */
const FORMAT_HOSTS = [
  'alpine',
  'cargo',
  'cocoapods',
  'composer',
  'conan',
  'conda',
  'cran',
  'dart',
  'deb',
  'docker',
  'go',
  'helm',
  'hex',
  'huggingface',
  'luarocks',
  'maven',
  'npm',
  'nuget',
  'p2',
  'python',
  'raw',
  'rpm',
  'ruby',
  'swift',
  'terraform',
  'vagrant',
].map((format) => `${format}.cloudsmith.io`);

/** Package downloads via the default domain. */
const DOWNLOAD_HOSTS = ['dl.cloudsmith.io'];

/** The web app, whose authenticated usage has a limit of its own. */
const APP_HOSTS = ['app.cloudsmith.com'];

/** Plans of authenticated callers. */
const PLANS = ['core', 'pro', 'velocity', 'ultra', 'enterprise'];

/**
 * Cloudsmith's published defaults ("Rate Limits and Scaling with Cloudsmith"):
 *
 * | who                                        | limit               | key                      |
 * | ------------------------------------------ | ------------------- | ------------------------ |
 * | anonymous, API                             | 1,800 / hour        | client IP                |
 * | Core plan, API                             | 5,400 / hour        | user                     |
 * | Pro or Velocity plan, API                  | 10,800 / hour       | user                     |
 * | Ultra or Enterprise plan, API              | custom (10,800 / hour until an override sets it) | user |
 * | authenticated app.cloudsmith.com usage     | 10,800 / hour       | user                     |
 * | package downloads, default domain          | 120,000 / hour      | client IP                |
 * | package metadata APIs (native formats)     | 1,512,000 / hour    | region + user + org      |
 *
 * Anonymous use of the web app counts as anonymous API use (1,800 per IP).
 * Package metadata is counted per region (`request.cf.region`), user and
 * organisation; a user without an organisation, or a request without a
 * region, shares the budget of the ones that have none, and anonymous
 * metadata requests are counted per region and client IP. Custom download
 * domains ("custom rate limits apply") get their own `downloads`-style rule
 * naming the domain.
 *
 * Plans come from identity records the API's backend writes when it issues
 * a key (`identity:<sha256 of the key>` in KV: subject, org, tier); a key
 * without a record counts as Core. Responses carry `X-RateLimit-Limit`,
 * `-Remaining`, `-Reset` and `-Interval` (seconds to wait before the next
 * request to stay within the window; on a 429, the wait itself), and a 429
 * has `Retry-After` and `{"detail": "Request was throttled. Expected
 * available in N.0 seconds."}`.
 *
 * Not from Cloudsmith's page, our addition (floors against made-up keys,
 * each of which would otherwise open a fresh Core budget):
 * - `address-ceiling`: 32,400 API and app requests an hour per client
 *   address, whatever key they carry: three Pro users' worth, so a user at
 *   an address never meets it; an Ultra or Enterprise customer whose
 *   override raises `api-enterprise` above it gets an override here too;
 * - `auth-failures`: 100 answers of 401 or 403 per 10 minutes per client
 *   address, on every host; past that the address is refused at the edge.
 */
export default definePolicy({
  name: 'cloudsmith',
  // The self-service quota endpoint: callers read their own budgets without spending them.
  quota: { path: '/.well-known/ratelimit' },
  identity: { credential: { header: 'X-Api-Key' }, records: true, defaultTier: 'core' },
  response: {
    reasonHeader: false, // Cloudsmith's page lists the headers its responses carry: no header of ours beside them.
    headers: ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-interval'],
    headersOn: 'always',
    body: 'detail',
    message: 'Request was throttled. Expected available in {retryAfter}.0 seconds.',
  },
  rules: [
    {
      // Not from Cloudsmith's page: our addition (see above).
      name: 'address-ceiling',
      quiet: true,
      match: { exceptHosts: [...DOWNLOAD_HOSTS, ...FORMAT_HOSTS] },
      key: 'ip',
      limits: [{ name: '1h', limit: 32_400, window: '1h' }],
    },
    {
      // Not from Cloudsmith's page: our addition. Answers of 401 or 403 from the origin, per client address:
      // past 100 in 10 minutes the address is refused before the origin is asked, so made-up
      // credentials stop costing the origin an authentication each.
      name: 'auth-failures',
      quiet: true,
      key: 'ip',
      countResponses: { status: [401, 403] },
      limits: [{ name: '10m', limit: 100, window: '10m' }],
    },
    {
      name: 'api-anonymous',
      match: { tiers: ['anonymous'], exceptHosts: [...DOWNLOAD_HOSTS, ...FORMAT_HOSTS] },
      key: 'ip',
      limits: [{ name: '1h', limit: 1_800, window: '1h' }],
    },
    {
      name: 'api-core',
      match: { tiers: ['core'], exceptHosts: [...DOWNLOAD_HOSTS, ...FORMAT_HOSTS, ...APP_HOSTS] },
      key: { identity: 'subject' },
      limits: [{ name: '1h', limit: 5_400, window: '1h' }],
    },
    {
      name: 'api-pro',
      match: { tiers: ['pro', 'velocity'], exceptHosts: [...DOWNLOAD_HOSTS, ...FORMAT_HOSTS, ...APP_HOSTS] },
      key: { identity: 'subject' },
      limits: [{ name: '1h', limit: 10_800, window: '1h' }],
    },
    {
      // "Custom rate limits apply": each customer's limit is an override in KV.
      name: 'api-enterprise',
      match: { tiers: ['ultra', 'enterprise'], exceptHosts: [...DOWNLOAD_HOSTS, ...FORMAT_HOSTS, ...APP_HOSTS] },
      key: { identity: 'subject' },
      limits: [{ name: '1h', limit: 10_800, window: '1h' }],
    },
    {
      name: 'app',
      match: { tiers: PLANS, hosts: APP_HOSTS },
      key: { identity: 'subject' },
      limits: [{ name: '1h', limit: 10_800, window: '1h' }],
    },
    {
      name: 'downloads',
      match: { hosts: DOWNLOAD_HOSTS },
      key: 'ip',
      limits: [{ name: '1h', limit: 120_000, window: '1h' }],
    },
    {
      // "per region, per user, and per organisation"
      name: 'package-metadata',
      match: { tiers: PLANS, hosts: FORMAT_HOSTS },
      key: [{ cf: 'region', optional: true }, { identity: 'subject' }, { identity: 'org', optional: true }],
      limits: [{ name: '1h', limit: 1_512_000, window: '1h' }],
    },
    {
      name: 'package-metadata-anonymous',
      match: { tiers: ['anonymous'], hosts: FORMAT_HOSTS },
      key: [{ cf: 'region', optional: true }, 'ip'],
      limits: [{ name: '1h', limit: 1_512_000, window: '1h' }],
    },
  ],
});
