import { datasetOf, isoTime, queryAnalytics, sqlLiteral, sqlTime, UsageUnavailable, usageSource } from './analytics-sql';
import { InvalidInput } from './invalid-input';

/** Which rules and which span of time the most refused keys are read for. */
export interface TopRefusedQuery {
  /** Start of the range, ISO 8601 UTC, included. */
  readonly from: string;
  /** End of the range, ISO 8601 UTC, excluded. */
  readonly to: string;
  /** One rule, or every rule of the policy when absent. */
  readonly rule?: string;
  /** How many keys per rule, most refused first. */
  readonly limit: number;
}

/** One key's refusals under one rule, across every isolate that wrote points. */
export interface RefusedKey {
  readonly rule: string;
  /** The key's digest, as logs and the traffic record name it (never the key). */
  readonly key: string;
  /** Refusals in the range, weighted by Analytics Engine's sampling. */
  readonly refusals: number;
  /** The last refusal's time, ISO 8601 UTC. */
  readonly lastSeen: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Analytics Engine keeps points for three months: a longer range reads nothing more. */
export const MAX_RANGE_DAYS = 92;
export const DEFAULT_KEYS = 10;
export const MAX_KEYS = 100;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

/** A query's time: a UTC day (its start; for `to`, its end) or an instant in UTC such as `2026-12-06T21:00Z`. */
function timeOf(field: 'from' | 'to', text: string): number {
  const day = DAY.test(text);
  const ms = day ? Date.parse(`${text}T00:00:00Z`) : INSTANT.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms) || (day && new Date(ms).toISOString().slice(0, 10) !== text))
    throw new InvalidInput(400, field, `${field} is a UTC day such as 2026-12-01 or a UTC time such as 2026-12-06T21:00Z`);
  return day && field === 'to' ? ms + DAY_MS : ms;
}

/** An instant as the answers show it: ISO 8601 UTC to the second. */
const instant = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/**
 * Reads the top-refused query: `from` and `to` as UTC days (a day `to`
 * includes that day) or UTC times (`to` defaults to now, `from` to 24 hours
 * before `to`; at most {@link MAX_RANGE_DAYS} days), `rule` (one of `rules`;
 * every rule when absent) and `limit` (keys per rule, 1 to
 * {@link MAX_KEYS}, default {@link DEFAULT_KEYS}). Throws `InvalidInput`
 * naming the field.
 *
 * @example
 * parseTopRefusedQuery({ from: '2026-12-01', to: '2026-12-06', rule: 'per-ip' }, Date.now(), ['per-ip']);
 */
export function parseTopRefusedQuery(query: Record<string, string | undefined>, now: number, rules: readonly string[]): TopRefusedQuery {
  const toMs = query.to !== undefined ? timeOf('to', query.to) : Math.floor(now / 1000) * 1000;
  const fromMs = query.from !== undefined ? timeOf('from', query.from) : toMs - 24 * HOUR_MS;
  if (fromMs >= toMs) throw new InvalidInput(400, 'from', 'from is a time before to');
  if (toMs - fromMs > MAX_RANGE_DAYS * DAY_MS) throw new InvalidInput(400, 'from', `a range covers at most ${MAX_RANGE_DAYS} days`);
  const { rule } = query;
  if (rule !== undefined && !rules.includes(rule))
    throw new InvalidInput(400, 'rule', `rule "${rule}" is not in the policy (rules: ${rules.join(', ')})`);
  const limitText = query.limit ?? String(DEFAULT_KEYS);
  const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_KEYS)) throw new InvalidInput(400, 'limit', `limit is a whole number from 1 to ${MAX_KEYS}`);
  return { from: instant(fromMs), to: instant(toMs), ...(rule !== undefined ? { rule } : {}), limit };
}

/**
 * The Analytics Engine SQL that reads one rule's most refused keys in
 * `[from, to)`: the refusal points of that rule (`index1` and `blob1` the
 * rule, `blob2` `refused`, `blob3` the key's digest), refusals weighted by
 * `_sample_interval`, most refused first, with the last refusal's time.
 * Points written before refusals carried a key (no `blob3`) are left out.
 * The rule is read through the index, the points' sampling key, so the
 * query reads only that rule's points.
 */
export function topRefusedSql(rule: string, from: string, to: string, limit: number, dataset: string): string {
  return [
    'SELECT blob1 AS rule, blob3 AS key, SUM(_sample_interval * double1) AS refusals, MAX(timestamp) AS last_seen',
    `FROM ${dataset}`,
    `WHERE index1 = ${sqlLiteral(rule)} AND blob1 = ${sqlLiteral(rule)} AND blob2 = 'refused' AND blob3 != ''`,
    `  AND timestamp >= toDateTime('${sqlTime(Date.parse(from))}') AND timestamp < toDateTime('${sqlTime(Date.parse(to))}')`,
    'GROUP BY rule, key',
    'ORDER BY refusals DESC, key',
    `LIMIT ${limit}`,
    'FORMAT JSON',
  ].join('\n');
}

/**
 * Reads the most refused keys of each rule the query names (every rule of
 * `rules`, in that order, when it names none), one query per rule, sent in
 * parallel: the SQL API has no "first n per group", and a query per rule
 * reads through the index. Where the API is not configured, throws
 * `UsageUnavailable` (501) with the queries it would send.
 */
export async function readTopRefused(
  env: Record<string, unknown>,
  query: TopRefusedQuery,
  rules: readonly string[],
  fetcher: typeof fetch = fetch,
): Promise<RefusedKey[]> {
  const dataset = datasetOf(env);
  const asked = query.rule !== undefined ? [query.rule] : rules;
  const queries = asked.map((rule) => topRefusedSql(rule, query.from, query.to, query.limit, dataset));
  const unavailable = (missing: string) =>
    `The most refused keys across the deployment are read from Analytics Engine's SQL API, which is not available here (it answers only for a deployed worker's account). Set ${missing} to read them.`;
  const source = usageSource(env);
  if ('missing' in source) throw new UsageUnavailable(501, unavailable(source.missing.join(', ')), queries.join('\n\n'));
  const answers = await Promise.all(queries.map((sql) => queryAnalytics(env, sql, unavailable, fetcher)));
  return answers.flatMap((rows, i) =>
    rows.map((row) => ({
      rule: asked[i]!,
      key: String(row.key ?? ''),
      refusals: Math.round(Number(row.refusals ?? 0)),
      lastSeen: isoTime(row.last_seen),
    })),
  );
}
