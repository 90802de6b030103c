import { definePolicy } from '../policy/parse';

/*
 * RubyGems.org is a Rails app: most routes take an optional format suffix
 * (`(.:format)`), so `/api/v1/gems.json` is the same action as
 * `/api/v1/gems`. Rules that limit carry `(.:format)` (any suffix); the
 * index exception carries only the formats its routes accept, so a suffix
 * cannot move a request out from under the general cap.
 */

/** Compact index and dependency API: the load balancer's higher cap (bundler's resolver). */
const INDEX_PATHS = ['/api/v1/dependencies(.marshal|json)', '/info/*', '/versions(.:format)', '/names(.:format)'];

/** Sign-in, sign-up, password reset, profile and email confirmation. */
const AUTH_PATHS = [
  '/session(.:format)',
  '/session/*',
  '/sign_in(.:format)',
  '/sign_up(.:format)',
  '/users(.:format)',
  '/users/*',
  '/password(.:format)',
  '/passwords(.:format)',
  '/passwords/*',
  '/profile(.:format)',
  '/profile/*',
  '/email_confirmations(.:format)',
  '/email_confirmations/*',
];

/** MFA, ownership changes, API key retrieval and gem yanking. */
const SENSITIVE_PATHS = [
  '/multifactor_auth(.:format)',
  '/multifactor_auth/*',
  '/api/v1/multifactor_auth(.:format)',
  '/api/v1/multifactor_auth/*',
  '/api/v1/gems/:gem/owners(.:format)',
  '/gems/:gem/owners(.:format)',
  '/gems/:gem/owners/*',
  '/api/v1/api_key(.:format)',
  '/api/v1/gems/yank(.:format)',
];

/**
 * RubyGems.org's limits ("Rubygems Rate Limits"), all answered with 429 and
 * `Retry-After` (rack-attack's plain `Retry later` body, no other headers):
 *
 * - load balancer: 10 requests per second per IP across the API and website,
 *   15 per second for the dependency API and compact index;
 * - auth and account endpoints: 100 requests per 10 minutes per IP;
 * - sensitive operations: exponential backoff per account, 300 per 5 minutes
 *   and 600 per 25 hours (rack-attack's limit × level per period ^ level:
 *   300 × 1 per 300 s, 300 × 2 per 300² s); requests without an API key (web
 *   sessions) back off per IP the same way;
 * - gem publishing (`POST /api/v1/gems`, `.json` and `.yaml` alike): 400 *successful* pushes per hour
 *   per account, and failed pushes counted separately at 300 per 5 minutes
 *   and 600 per 25 hours. Each push reserves before the origin is asked and
 *   keeps only the count its response status matches.
 * - IP blackholing for abuse: 300 refusals by the load-balancer cap within a
 *   minute ban the address for an hour (403) on every path, through the live
 *   block list; the `block` list holds addresses blackholed for good.
 *
 * The account is the API key's owner, from the identity record the backend
 * writes when the key is issued (`identity:<sha256 of the key>`); a key
 * without a record counts as an account of its own.
 *
 * Not from RubyGems' page, our addition: `auth-failures`, 100 answers of 401
 * or 403 per 10 minutes per client address (the auth endpoints' figure);
 * past that the address is refused at the edge, so made-up API keys stop
 * costing the origin an authentication each. The per-address ceiling is
 * RubyGems' own: the load balancer's cap applies whatever key a request carries.
 */
export default definePolicy({
  name: 'rubygems',
  // The self-service quota endpoint: callers read their own budgets without spending them.
  quota: { path: '/.well-known/ratelimit' },
  identity: { credential: 'authorization', records: true, defaultTier: 'account' },
  response: { headers: [], body: 'text', message: 'Retry later', reasonHeader: false }, // rack-attack's 429: no other headers.
  rules: [
    {
      name: 'lb-ip',
      match: { exceptPaths: INDEX_PATHS },
      key: 'ip',
      limits: [{ name: '1s', limit: 10, window: '1s' }],
      // Blackholing takes the address off the whole site, the compact index and auth endpoints included.
      ban: { after: 300, within: '1m', duration: '1h', blockAddress: true },
    },
    { name: 'lb-index', match: { paths: INDEX_PATHS }, key: 'ip', limits: [{ name: '1s', limit: 15, window: '1s' }] },
    { name: 'auth', match: { paths: AUTH_PATHS }, key: 'ip', limits: [{ name: '10m', limit: 100, window: '10m' }] },
    {
      name: 'sensitive',
      match: { paths: SENSITIVE_PATHS },
      key: { identity: 'subject' },
      backoff: { name: 'backoff', limit: 300, period: '300s', levels: 2 },
    },
    {
      // Signed-in web sessions carry no API key: their sensitive operations back off per address.
      name: 'sensitive-session',
      match: { paths: SENSITIVE_PATHS, tiers: ['anonymous'] },
      key: 'ip',
      backoff: { name: 'backoff', limit: 300, period: '300s', levels: 2 },
    },
    {
      // Not from RubyGems's page: our addition. Answers of 401 or 403 from the origin, per client address:
      // past 100 in 10 minutes the address is refused before the origin is asked, so made-up
      // credentials stop costing the origin an authentication each.
      name: 'auth-failures',
      quiet: true,
      key: 'ip',
      countResponses: { status: [401, 403] },
      limits: [{ name: '10m', limit: 100, window: '10m' }],
    },
    {
      name: 'push',
      match: { methods: ['POST'], paths: ['/api/v1/gems(.:format)'] },
      key: { identity: 'subject' },
      limits: [{ name: 'pushes', limit: 400, window: '1h', countWhen: { status: ['2xx'] } }],
      backoff: { name: 'failed-pushes', limit: 300, period: '300s', levels: 2, countWhen: { status: ['4xx', '5xx'] } },
    },
  ],
});
