import { describe, expect, it } from 'vitest';
import { UsageUnavailable } from './analytics-sql';
import { decisionsSql, readDecisions } from './decisions';

const NOW = Date.UTC(2026, 11, 6, 21, 30);
const configured = { ANALYTICS_ACCOUNT_ID: 'acc', ANALYTICS_API_TOKEN: 'token-for-tests', ANALYTICS_DATASET: 'edge_ratelimit' };

describe('decisionsSql', () => {
  it("counts each rule's allowed, refused and shadow-refused points per hour over whole hours up to the current one, leaving usage points out", () => {
    expect(decisionsSql(NOW, 24, 'edge_ratelimit')).toBe(
      [
        'SELECT toStartOfHour(timestamp) AS hour, blob1 AS rule, blob2 AS event, SUM(_sample_interval * double1) AS count',
        'FROM edge_ratelimit',
        "WHERE blob1 != '.usage' AND blob2 IN ('allowed', 'refused', 'shadow_refused')",
        "  AND timestamp >= toDateTime('2026-12-05 22:00:00') AND timestamp < toDateTime('2026-12-06 22:00:00')",
        'GROUP BY hour, rule, event',
        'ORDER BY hour, rule, event',
        'FORMAT JSON',
      ].join('\n'),
    );
  });
});

describe('readDecisions', () => {
  it('says plainly where the SQL API is not configured, with the query it would send', async () => {
    const error = (await readDecisions({}, NOW).catch((e: unknown) => e)) as UsageUnavailable;
    expect(error).toBeInstanceOf(UsageUnavailable);
    expect(error.status).toBe(501);
    expect(error.message).toMatch(/^Decisions across the deployment are read from Analytics Engine's SQL API, which is not available here/);
    expect(error.sql).toBe(decisionsSql(NOW, 24, 'edge_ratelimit'));
  });

  it('reads the rows the SQL API answers as hours in UTC', async () => {
    const fetcher = (async () =>
      Response.json({ data: [{ hour: '2026-12-06 20:00:00', rule: 'per-ip', event: 'refused', count: 41.9 }] })) as unknown as typeof fetch;
    expect(await readDecisions(configured, NOW, 24, fetcher)).toEqual([
      { hour: '2026-12-06T20:00:00Z', rule: 'per-ip', event: 'refused', count: 42 },
    ]);
  });
});
