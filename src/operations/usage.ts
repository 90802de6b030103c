import { USAGE_BLOB } from '../observability/usage-point';
import { DEFAULT_DATASET, sqlLiteral as literal, queryAnalytics, USAGE_VARIABLES, UsageUnavailable, usageSource } from './analytics-sql';
import { InvalidInput } from './invalid-input';

/** Which customer and which days a usage report covers; days are UTC, both ends included. */
export interface UsageQuery {
  readonly subject?: string;
  readonly org?: string;
  /** `YYYY-MM-DD`. */
  readonly from: string;
  /** `YYYY-MM-DD`. */
  readonly to: string;
  readonly format: 'json' | 'csv';
}

/** One day of one customer's usage. */
export interface UsageDay {
  readonly day: string;
  readonly subject: string;
  readonly org: string;
  readonly allowed: number;
  readonly refused: number;
  readonly units: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATASET_NAME = /^[A-Za-z0-9_]{1,64}$/;
const DAY_MS = 86_400_000;
/** Analytics Engine keeps data for three months; a year bounds a mistyped range. */
const MAX_DAYS = 366;

function dayOf(field: 'from' | 'to', text: string): number {
  const ms = DAY.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text)
    throw new InvalidInput(400, field, `${field} is a day such as 2026-11-01`);
  return ms;
}

function identityValue(field: 'subject' | 'org', value: string): string {
  // Printable text only: it is written into a SQL string literal, escaped, and must be what the limiter wrote.
  if (value.length === 0 || value.length > 256 || [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw new InvalidInput(400, field, `${field} is 1 to 256 printable characters`);
  return value;
}

/**
 * Reads the usage endpoint's query: exactly one of `subject` and `org`,
 * `from` and `to` as UTC days (`to` defaults to today, `from` to 29 days
 * before `to`), and `format` (`json` or `csv`). Throws `InvalidInput` naming
 * the field.
 *
 * @example
 * parseUsageQuery({ subject: 'user_42', from: '2026-11-01', to: '2026-11-30' }, Date.now());
 */
export function parseUsageQuery(query: Record<string, string | undefined>, now: number): UsageQuery {
  const { subject, org } = query;
  if ((subject === undefined) === (org === undefined)) throw new InvalidInput(400, 'subject', 'give exactly one of subject and org');
  const to = query.to ?? new Date(now).toISOString().slice(0, 10);
  const toMs = dayOf('to', to);
  const from = query.from ?? new Date(toMs - 29 * DAY_MS).toISOString().slice(0, 10);
  const fromMs = dayOf('from', from);
  if (fromMs > toMs) throw new InvalidInput(400, 'from', 'from is a day no later than to');
  if ((toMs - fromMs) / DAY_MS + 1 > MAX_DAYS) throw new InvalidInput(400, 'from', `a report covers at most ${MAX_DAYS} days`);
  const format = query.format ?? 'json';
  if (format !== 'json' && format !== 'csv') throw new InvalidInput(400, 'format', 'format is json or csv');
  return {
    ...(subject !== undefined ? { subject: identityValue('subject', subject) } : { org: identityValue('org', org!) }),
    from,
    to,
    format,
  };
}

/**
 * The Analytics Engine SQL that sums a customer's usage points per day:
 * allowed and refused requests and cost units, each weighted by
 * `_sample_interval` so sampled data still adds up. A subject is looked up
 * by the points' index (fast); an org by its blob.
 */
export function usageSql(query: UsageQuery, dataset: string): string {
  if (!DATASET_NAME.test(dataset))
    throw new Error(`${USAGE_VARIABLES.dataset}: "${dataset}" is not a dataset name (letters, digits and "_")`);
  const who = query.subject !== undefined ? `index1 = ${literal(query.subject)}` : `blob3 = ${literal(query.org!)}`;
  const end = new Date(Date.parse(`${query.to}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
  return [
    'SELECT toStartOfDay(timestamp) AS day, blob2 AS subject, blob3 AS org,',
    '  SUM(_sample_interval * double1) AS allowed, SUM(_sample_interval * double2) AS refused, SUM(_sample_interval * double3) AS units',
    `FROM ${dataset}`,
    `WHERE blob1 = ${literal(USAGE_BLOB)} AND ${who}`,
    `  AND timestamp >= toDateTime('${query.from} 00:00:00') AND timestamp < toDateTime('${end} 00:00:00')`,
    'GROUP BY day, subject, org',
    'ORDER BY day, subject, org',
    'FORMAT JSON',
  ].join('\n');
}

/**
 * Asks the Analytics Engine SQL API for a customer's usage per day. Where the
 * API is not configured (locally, under `wrangler dev`, where Analytics
 * Engine has no SQL API) it throws a {@link UsageUnavailable} saying so, with
 * the query it would send.
 */
export async function readUsage(env: Record<string, unknown>, query: UsageQuery, fetcher: typeof fetch = fetch): Promise<UsageDay[]> {
  const source = usageSource(env);
  const configured = env[USAGE_VARIABLES.dataset];
  const datasetOk = typeof configured === 'string' && DATASET_NAME.test(configured);
  const sql = usageSql(query, datasetOk ? configured : DEFAULT_DATASET);
  if (!datasetOk && !('missing' in source))
    throw new UsageUnavailable(501, `${USAGE_VARIABLES.dataset} is not a dataset name (letters, digits and "_")`, sql);
  const rows = await queryAnalytics(
    env,
    sql,
    (missing) =>
      `Usage per customer is read from Analytics Engine's SQL API, which is not available here (it answers only for a deployed worker's account). Set ${missing} to read it.`,
    fetcher,
  );
  return rows.map((row) => ({
    day: String(row.day ?? '').slice(0, 10),
    subject: String(row.subject ?? ''),
    org: String(row.org ?? ''),
    allowed: Math.round(Number(row.allowed ?? 0)),
    refused: Math.round(Number(row.refused ?? 0)),
    units: Math.round(Number(row.units ?? 0)),
  }));
}

/** One CSV field: quoted when it holds a comma, quote or line break; a leading formula sign is neutralised for spreadsheets. */
function csvField(value: string | number): string {
  let text = String(value);
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Usage days as CSV with a header row. */
export function usageCsv(days: readonly UsageDay[]): string {
  const header = 'day,subject,org,allowed,refused,units';
  return `${[header, ...days.map((d) => [d.day, d.subject, d.org, d.allowed, d.refused, d.units].map(csvField).join(','))].join('\r\n')}\r\n`;
}
