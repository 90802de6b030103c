import { USAGE_BLOB } from '../observability/usage-point';
import { datasetOf, isoTime, queryAnalytics, sqlTime } from './analytics-sql';

/** The decisions the deployment-wide view charts, as the limiter's Analytics Engine points name them. */
export const CHARTED_EVENTS = ['allowed', 'refused', 'shadow_refused'] as const;
export type ChartedEvent = (typeof CHARTED_EVENTS)[number];

/** Decisions of one rule in one hour, across every isolate that wrote points. */
export interface DecisionHour {
  /** The hour's start, ISO 8601 UTC. */
  readonly hour: string;
  readonly rule: string;
  readonly event: ChartedEvent;
  readonly count: number;
}

const HOUR_MS = 3_600_000;

/**
 * The Analytics Engine SQL that counts each rule's allowed, refused and
 * shadow-refused decisions per hour over the `hours` whole hours up to the
 * one holding `now`, from the points every isolate writes
 * (`blobs: [rule, event]`, `doubles: [1]`), weighted by `_sample_interval`.
 */
export function decisionsSql(now: number, hours: number, dataset: string): string {
  const end = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS;
  const start = end - hours * HOUR_MS;
  return [
    'SELECT toStartOfHour(timestamp) AS hour, blob1 AS rule, blob2 AS event, SUM(_sample_interval * double1) AS count',
    `FROM ${dataset}`,
    `WHERE blob1 != '${USAGE_BLOB}' AND blob2 IN (${CHARTED_EVENTS.map((e) => `'${e}'`).join(', ')})`,
    `  AND timestamp >= toDateTime('${sqlTime(start)}') AND timestamp < toDateTime('${sqlTime(end)}')`,
    'GROUP BY hour, rule, event',
    'ORDER BY hour, rule, event',
    'FORMAT JSON',
  ].join('\n');
}

/**
 * Reads the deployment's decisions per rule and hour from Analytics Engine's
 * SQL API; where it is not configured, throws `UsageUnavailable` (501) with
 * the query it would send, as the usage report does.
 */
export async function readDecisions(
  env: Record<string, unknown>,
  now: number,
  hours = 24,
  fetcher: typeof fetch = fetch,
): Promise<DecisionHour[]> {
  const sql = decisionsSql(now, hours, datasetOf(env));
  const rows = await queryAnalytics(
    env,
    sql,
    (missing) =>
      `Decisions across the deployment are read from Analytics Engine's SQL API, which is not available here (it answers only for a deployed worker's account). Set ${missing} to read them.`,
    fetcher,
  );
  return rows
    .filter((row) => (CHARTED_EVENTS as readonly unknown[]).includes(row.event))
    .map((row) => ({
      hour: isoTime(row.hour),
      rule: String(row.rule ?? ''),
      event: row.event as ChartedEvent,
      count: Math.round(Number(row.count ?? 0)),
    }));
}
