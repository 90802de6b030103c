/** Where the Analytics Engine SQL API is, and which dataset the limiter writes: from the worker's variables. */
export interface UsageSource {
  readonly accountId: string;
  readonly apiToken: string;
  readonly dataset: string;
}

/** The variables a deployment sets to read usage; the token is a secret with Account Analytics: Read. */
export const USAGE_VARIABLES = {
  accountId: 'ANALYTICS_ACCOUNT_ID',
  apiToken: 'ANALYTICS_API_TOKEN',
  dataset: 'ANALYTICS_DATASET',
} as const;

/**
 * The variable naming where the SQL API is, up to the `/accounts/…` part:
 * Cloudflare's API unless set. Tests point it at a local stand-in; in
 * production leave it unset, since the API token is sent there.
 */
export const SQL_URL_VARIABLE = 'ANALYTICS_SQL_URL';

/** Cloudflare's API, under which the SQL API answers at `/accounts/<account id>/analytics_engine/sql`. */
export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';

/** The SQL API's settings from the worker's variables, or the names of those missing. */
export function usageSource(env: Record<string, unknown>): UsageSource | { readonly missing: string[] } {
  const values = Object.fromEntries(Object.entries(USAGE_VARIABLES).map(([k, name]) => [k, env[name]]));
  const missing = Object.entries(USAGE_VARIABLES)
    .filter(([k]) => typeof values[k] !== 'string' || values[k] === '')
    .map(([, name]) => name);
  return missing.length > 0 ? { missing } : (values as unknown as UsageSource);
}

/**
 * The address of the SQL API for an account: `ANALYTICS_SQL_URL` (an http or
 * https URL, without a trailing slash needed) or Cloudflare's API, then
 * `/accounts/<account id>/analytics_engine/sql`; `undefined` when the
 * variable is set to something that is not such a URL.
 *
 * @example
 * sqlEndpoint({}, 'acc'); // 'https://api.cloudflare.com/client/v4/accounts/acc/analytics_engine/sql'
 */
export function sqlEndpoint(env: Record<string, unknown>, accountId: string): string | undefined {
  const configured = env[SQL_URL_VARIABLE];
  let base = CLOUDFLARE_API;
  if (typeof configured === 'string' && configured !== '') {
    let url: URL;
    try {
      url = new URL(configured);
    } catch {
      return undefined;
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') return undefined;
    base = configured.replace(/\/+$/, '');
  }
  return `${base}/accounts/${encodeURIComponent(accountId)}/analytics_engine/sql`;
}

/** The dataset the SQL names when none is configured, so the query it would send can still be shown. */
export const DEFAULT_DATASET = 'edge_ratelimit';
const DATASET_NAME = /^[A-Za-z0-9_]{1,64}$/;

/** The dataset `ANALYTICS_DATASET` names, or the default when it is unset or not a dataset name. */
export function datasetOf(env: Record<string, unknown>): string {
  const configured = env[USAGE_VARIABLES.dataset];
  return typeof configured === 'string' && DATASET_NAME.test(configured) ? configured : DEFAULT_DATASET;
}

/** A SQL string literal: backslashes and quotes escaped. */
export function sqlLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A time in the SQL API's `toDateTime` form (UTC, to the second). */
export function sqlTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** A time the SQL API answers (`2026-12-06 21:14:03`, UTC) as ISO 8601. */
export function isoTime(text: unknown): string {
  const value = String(text ?? '');
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
}

/** Why Analytics Engine could not be read: not configured here (501), or the SQL API failed (502). */
export class UsageUnavailable extends Error {
  constructor(
    readonly status: 501 | 502,
    message: string,
    /** The query that was, or would have been, sent. */
    readonly sql: string,
  ) {
    super(message);
  }
}

/**
 * Sends one query to Analytics Engine's SQL API with the worker's settings
 * and answers its rows. `unavailable` is the plain message for where the API
 * is not configured (locally, under `wrangler dev`); it gets the names of
 * the missing settings. Failures throw `UsageUnavailable` with the query.
 */
export async function queryAnalytics(
  env: Record<string, unknown>,
  sql: string,
  unavailable: (missing: string) => string,
  fetcher: typeof fetch,
): Promise<Array<Record<string, unknown>>> {
  const source = usageSource(env);
  if ('missing' in source) throw new UsageUnavailable(501, unavailable(source.missing.join(', ')), sql);
  const endpoint = sqlEndpoint(env, source.accountId);
  if (!endpoint) throw new UsageUnavailable(501, `${SQL_URL_VARIABLE} is not an http or https URL without a query`, sql);
  const response = await fetcher(endpoint, {
    method: 'POST',
    headers: { Authorization: `Bearer ${source.apiToken}` },
    body: sql,
  });
  const text = await response.text();
  if (!response.ok) throw new UsageUnavailable(502, `Analytics Engine's SQL API answered ${response.status}: ${text.slice(0, 300)}`, sql);
  let rows: unknown;
  try {
    rows = (JSON.parse(text) as { data?: unknown }).data;
  } catch {
    throw new UsageUnavailable(502, "Analytics Engine's SQL API answered with something other than JSON", sql);
  }
  if (!Array.isArray(rows)) throw new UsageUnavailable(502, "Analytics Engine's SQL API answered without a data array", sql);
  return rows as Array<Record<string, unknown>>;
}
