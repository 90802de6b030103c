import { describe, expect, it } from 'vitest';
import { UsageUnavailable } from './analytics-sql';
import { CONFIGURED_ANALYTICS, invalidFieldOf } from './test-support';
import { parseTopRefusedQuery, readTopRefused, topRefusedSql } from './top-refused';

const NOW = Date.UTC(2026, 11, 6, 21, 30, 15, 250);
const RULES = ['per-ip', 'login'];

/** A stand-in for the SQL API: records each request and answers the rows `answer` gives for its SQL. */
function sqlApi(answer: (sql: string) => unknown[]) {
  const sent: Array<{ url: string; authorization: string | null; sql: string }> = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const sql = await request.text();
    sent.push({ url: request.url, authorization: request.headers.get('Authorization'), sql });
    return Response.json({ meta: [], data: answer(sql), rows: 0 });
  }) as typeof fetch;
  return { sent, fetcher };
}

describe('parseTopRefusedQuery', () => {
  it('defaults to the 24 hours up to now, every rule, ten keys each', () => {
    expect(parseTopRefusedQuery({}, NOW, RULES)).toEqual({ from: '2026-12-05T21:30:15Z', to: '2026-12-06T21:30:15Z', limit: 10 });
  });

  it('reads days (a day `to` includes that day) and UTC times, one rule and a limit', () => {
    expect(parseTopRefusedQuery({ from: '2026-12-01', to: '2026-12-06', rule: 'login', limit: '25' }, NOW, RULES)).toEqual({
      from: '2026-12-01T00:00:00Z',
      to: '2026-12-07T00:00:00Z',
      rule: 'login',
      limit: 25,
    });
    expect(parseTopRefusedQuery({ from: '2026-12-06T20:00Z', to: '2026-12-06T21:15:30Z' }, NOW, RULES)).toEqual({
      from: '2026-12-06T20:00:00Z',
      to: '2026-12-06T21:15:30Z',
      limit: 10,
    });
  });

  it.each([
    [{ from: 'yesterday' }, 'from: from is a UTC day such as 2026-12-01 or a UTC time such as 2026-12-06T21:00Z'],
    [{ to: '2026-02-30' }, 'to: to is a UTC day such as 2026-12-01 or a UTC time such as 2026-12-06T21:00Z'],
    [{ to: '2026-12-06T21:00' }, 'to: to is a UTC day such as 2026-12-01 or a UTC time such as 2026-12-06T21:00Z'],
    [{ from: '2026-12-06T21:00Z', to: '2026-12-06T21:00Z' }, 'from: from is a time before to'],
    [{ from: '2026-01-01', to: '2026-12-01' }, 'from: a range covers at most 92 days'],
    [{ rule: 'per-token' }, 'rule: rule "per-token" is not in the policy (rules: per-ip, login)'],
    [{ limit: '0' }, 'limit: limit is a whole number from 1 to 100'],
    [{ limit: '101' }, 'limit: limit is a whole number from 1 to 100'],
    [{ limit: '1e1' }, 'limit: limit is a whole number from 1 to 100'],
  ])('refuses %j naming the field', (query, expected) => {
    expect(invalidFieldOf(() => parseTopRefusedQuery(query, NOW, RULES))).toBe(expected);
  });
});

describe('topRefusedSql', () => {
  it("sums one rule's refusal points per key digest over the range, read through the rule's index, most refused first", () => {
    expect(topRefusedSql('per-ip', '2026-12-05T22:00:00Z', '2026-12-06T22:00:00Z', 10, 'edge_ratelimit')).toBe(
      [
        'SELECT blob1 AS rule, blob3 AS key, SUM(_sample_interval * double1) AS refusals, MAX(timestamp) AS last_seen',
        'FROM edge_ratelimit',
        "WHERE index1 = 'per-ip' AND blob1 = 'per-ip' AND blob2 = 'refused' AND blob3 != ''",
        "  AND timestamp >= toDateTime('2026-12-05 22:00:00') AND timestamp < toDateTime('2026-12-06 22:00:00')",
        'GROUP BY rule, key',
        'ORDER BY refusals DESC, key',
        'LIMIT 10',
        'FORMAT JSON',
      ].join('\n'),
    );
  });

  it('escapes a rule name inside its string literals', () => {
    expect(topRefusedSql("o'brien\\", '2026-12-05T22:00:00Z', '2026-12-06T22:00:00Z', 5, 'd')).toContain(
      "WHERE index1 = 'o\\'brien\\\\' AND blob1 = 'o\\'brien\\\\'",
    );
  });
});

describe('readTopRefused', () => {
  const query = { from: '2026-12-05T22:00:00Z', to: '2026-12-06T22:00:00Z', limit: 3 };

  it('says plainly where the SQL API is not configured, with the query for each rule it would send', async () => {
    const error = (await readTopRefused({}, query, RULES).catch((e: unknown) => e)) as UsageUnavailable;
    expect(error).toBeInstanceOf(UsageUnavailable);
    expect(error.status).toBe(501);
    expect(error.message).toMatch(
      /^The most refused keys across the deployment are read from Analytics Engine's SQL API, which is not available here .* Set ANALYTICS_ACCOUNT_ID, ANALYTICS_API_TOKEN, ANALYTICS_DATASET to read them\.$/,
    );
    expect(error.sql).toBe(
      [
        topRefusedSql('per-ip', query.from, query.to, 3, 'edge_ratelimit'),
        topRefusedSql('login', query.from, query.to, 3, 'edge_ratelimit'),
      ].join('\n\n'),
    );
  });

  it("sends one query per rule to Cloudflare's SQL API with the token, and answers each rule's keys in policy order", async () => {
    const { sent, fetcher } = sqlApi((sql) =>
      sql.includes("index1 = 'per-ip'")
        ? [
            { rule: 'per-ip', key: '2a4c695746be086f', refusals: 120.4, last_seen: '2026-12-06 21:14:03' },
            { rule: 'per-ip', key: '9b1d5e0c7f3a2d11', refusals: 8, last_seen: '2026-12-06 19:02:44' },
          ]
        : [{ rule: 'login', key: 'c0ffee0012345678', refusals: 3, last_seen: '2026-12-06 08:00:00' }],
    );
    expect(await readTopRefused(CONFIGURED_ANALYTICS, query, RULES, fetcher)).toEqual([
      { rule: 'per-ip', key: '2a4c695746be086f', refusals: 120, lastSeen: '2026-12-06T21:14:03Z' },
      { rule: 'per-ip', key: '9b1d5e0c7f3a2d11', refusals: 8, lastSeen: '2026-12-06T19:02:44Z' },
      { rule: 'login', key: 'c0ffee0012345678', refusals: 3, lastSeen: '2026-12-06T08:00:00Z' },
    ]);
    const url = 'https://api.cloudflare.com/client/v4/accounts/0123456789abcdef0123456789abcdef/analytics_engine/sql';
    expect(sent.map((s) => [s.url, s.authorization, s.sql]).sort()).toEqual(
      [
        [url, 'Bearer token-for-tests', topRefusedSql('login', query.from, query.to, 3, 'edge_ratelimit')],
        [url, 'Bearer token-for-tests', topRefusedSql('per-ip', query.from, query.to, 3, 'edge_ratelimit')],
      ].sort(),
    );
  });

  it('asks only for the rule the query names, at the address ANALYTICS_SQL_URL gives', async () => {
    const { sent, fetcher } = sqlApi(() => []);
    const env = { ...CONFIGURED_ANALYTICS, ANALYTICS_SQL_URL: 'http://127.0.0.1:9999/client/v4/' };
    expect(await readTopRefused(env, { ...query, rule: 'login' }, RULES, fetcher)).toEqual([]);
    expect(sent).toEqual([
      {
        url: 'http://127.0.0.1:9999/client/v4/accounts/0123456789abcdef0123456789abcdef/analytics_engine/sql',
        authorization: 'Bearer token-for-tests',
        sql: topRefusedSql('login', query.from, query.to, 3, 'edge_ratelimit'),
      },
    ]);
  });

  it('refuses an ANALYTICS_SQL_URL that is not an http or https address, sending nothing', async () => {
    const { sent, fetcher } = sqlApi(() => []);
    for (const bad of ['ftp://example.test', 'not a url', 'https://example.test/?account=x']) {
      const error = (await readTopRefused({ ...CONFIGURED_ANALYTICS, ANALYTICS_SQL_URL: bad }, query, RULES, fetcher).catch(
        (e: unknown) => e,
      )) as UsageUnavailable;
      expect(error).toBeInstanceOf(UsageUnavailable);
      expect([error.status, error.message]).toEqual([501, 'ANALYTICS_SQL_URL is not an http or https URL without a query']);
    }
    expect(sent).toEqual([]);
  });

  it("passes on the SQL API's failure as a 502 with the query", async () => {
    const fetcher = (async () => new Response('{"errors":[{"message":"bad token"}]}', { status: 403 })) as unknown as typeof fetch;
    const error = (await readTopRefused(CONFIGURED_ANALYTICS, { ...query, rule: 'per-ip' }, RULES, fetcher).catch(
      (e: unknown) => e,
    )) as UsageUnavailable;
    expect(error.status).toBe(502);
    expect(error.message).toBe('Analytics Engine\'s SQL API answered 403: {"errors":[{"message":"bad token"}]}');
    expect(error.sql).toBe(topRefusedSql('per-ip', query.from, query.to, 3, 'edge_ratelimit'));
  });
});
