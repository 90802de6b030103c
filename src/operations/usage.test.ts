import { describe, expect, it } from 'vitest';
import { UsageUnavailable } from './analytics-sql';
import { CONFIGURED_ANALYTICS, invalidFieldOf } from './test-support';
import { parseUsageQuery, readUsage, usageCsv, usageSql } from './usage';

const NOW = Date.UTC(2026, 11, 6, 21, 0);

describe('parseUsageQuery', () => {
  it('defaults to the 30 days ending today, as JSON', () => {
    expect(parseUsageQuery({ subject: 'user_42' }, NOW)).toEqual({
      subject: 'user_42',
      from: '2026-11-07',
      to: '2026-12-06',
      format: 'json',
    });
  });

  it.each([
    [{}, 'subject: give exactly one of subject and org'],
    [{ subject: 'a', org: 'b' }, 'subject: give exactly one of subject and org'],
    [{ subject: 'a', from: '2026-02-30' }, 'from: from is a day such as 2026-11-01'],
    [{ subject: 'a', to: 'yesterday' }, 'to: to is a day such as 2026-11-01'],
    [{ subject: 'a', from: '2026-12-02', to: '2026-12-01' }, 'from: from is a day no later than to'],
    [{ subject: 'a', from: '2024-01-01', to: '2026-01-01' }, 'from: a report covers at most 366 days'],
    [{ subject: 'a', format: 'xml' }, 'format: format is json or csv'],
    [{ org: 'line\nbreak' }, 'org: org is 1 to 256 printable characters'],
  ])('refuses %j, naming the field', (query, expected) => {
    expect(invalidFieldOf(() => parseUsageQuery(query, NOW))).toBe(expected);
  });
});

describe('usageSql', () => {
  it("sums a subject's points per day by its index, weighted by the sample interval, to the end of the last day", () => {
    expect(usageSql({ subject: 'user_42', from: '2026-11-01', to: '2026-11-30', format: 'json' }, 'edge_ratelimit')).toBe(
      [
        'SELECT toStartOfDay(timestamp) AS day, blob2 AS subject, blob3 AS org,',
        '  SUM(_sample_interval * double1) AS allowed, SUM(_sample_interval * double2) AS refused, SUM(_sample_interval * double3) AS units',
        'FROM edge_ratelimit',
        "WHERE blob1 = '.usage' AND index1 = 'user_42'",
        "  AND timestamp >= toDateTime('2026-11-01 00:00:00') AND timestamp < toDateTime('2026-12-01 00:00:00')",
        'GROUP BY day, subject, org',
        'ORDER BY day, subject, org',
        'FORMAT JSON',
      ].join('\n'),
    );
  });

  it('finds an org by its blob, and escapes quotes so a value cannot end the string', () => {
    const sql = usageSql({ org: "acme' OR '1'='1", from: '2026-11-01', to: '2026-11-01', format: 'csv' }, 'edge_ratelimit');
    expect(sql).toContain("WHERE blob1 = '.usage' AND blob3 = 'acme\\' OR \\'1\\'=\\'1'");
    expect(sql).toContain("timestamp < toDateTime('2026-11-02 00:00:00')");
  });
});

describe('readUsage', () => {
  const query = parseUsageQuery({ subject: 'user_42', from: '2026-11-01', to: '2026-11-02' }, NOW);

  it('says plainly that the SQL API is not available where it is not configured, with the query it would send', async () => {
    const error = await readUsage({}, query, () => Promise.reject(new Error('no call expected'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageUnavailable);
    expect((error as UsageUnavailable).status).toBe(501);
    expect((error as UsageUnavailable).message).toMatch(
      /not available here.*Set ANALYTICS_ACCOUNT_ID, ANALYTICS_API_TOKEN, ANALYTICS_DATASET/,
    );
    expect((error as UsageUnavailable).sql).toBe(usageSql(query, 'edge_ratelimit'));
  });

  it("posts the SQL to the account's SQL API with the token and reads the days", async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fetcher = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return Response.json({
        data: [{ day: '2026-11-01 00:00:00', subject: 'user_42', org: 'acme', allowed: 120, refused: 3, units: 240 }],
        rows: 1,
      });
    }) as unknown as typeof fetch;
    const days = await readUsage(CONFIGURED_ANALYTICS, query, fetcher);
    expect(days).toEqual([{ day: '2026-11-01', subject: 'user_42', org: 'acme', allowed: 120, refused: 3, units: 240 }]);
    expect(calls[0]!.url).toBe('https://api.cloudflare.com/client/v4/accounts/0123456789abcdef0123456789abcdef/analytics_engine/sql');
    expect(calls[0]!.init.method).toBe('POST');
    expect(new Headers(calls[0]!.init.headers).get('Authorization')).toBe('Bearer token-for-tests');
    expect(calls[0]!.init.body).toBe(usageSql(query, 'edge_ratelimit'));
  });

  it('reports a failing SQL API as a 502 with its answer', async () => {
    const fetcher = (async () => new Response('authentication error', { status: 401 })) as unknown as typeof fetch;
    const error = (await readUsage(CONFIGURED_ANALYTICS, query, fetcher).catch((e: unknown) => e)) as UsageUnavailable;
    expect([error.status, error.message]).toEqual([502, "Analytics Engine's SQL API answered 401: authentication error"]);
  });
});

describe('usageCsv', () => {
  it('writes a header and one row a day, quoting what needs it and neutralising formulas', () => {
    expect(usageCsv([{ day: '2026-11-01', subject: 'a,b', org: '=cmd()', allowed: 1, refused: 2, units: 3 }])).toBe(
      'day,subject,org,allowed,refused,units\r\n2026-11-01,"a,b",\'=cmd(),1,2,3\r\n',
    );
  });
});
