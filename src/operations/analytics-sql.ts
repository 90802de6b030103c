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

/** The SQL API's settings from the worker's variables, or the names of those missing. */
export function usageSource(env: Record<string, unknown>): UsageSource | { readonly missing: string[] } {
  const values = Object.fromEntries(Object.entries(USAGE_VARIABLES).map(([k, name]) => [k, env[name]]));
  const missing = Object.entries(USAGE_VARIABLES)
    .filter(([k]) => typeof values[k] !== 'string' || values[k] === '')
    .map(([, name]) => name);
  return missing.length > 0 ? { missing } : (values as unknown as UsageSource);
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
  const response = await fetcher(
    `https://api.cloudflare.com/client/v4/accounts/${encodeURIComponent(source.accountId)}/analytics_engine/sql`,
    {
      method: 'POST',
      headers: { Authorization: `Bearer ${source.apiToken}` },
      body: sql,
    },
  );
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
