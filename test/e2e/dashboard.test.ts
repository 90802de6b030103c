import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnalyticsSqlStandIn, startAnalyticsSql } from './support/analytics-sql';
import { type Chromium, launchChromium } from './support/chromium';
import { type DevServer, startDev } from './support/wrangler-dev';

const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const TOKEN = 'e2e-dashboard-token';
const HOUR = 3_600_000;
const DATASET = 'e2e_points';
const ACCOUNT = 'e2e-account';
const SQL_TOKEN = 'e2e-sql-token';
/** The address whose refusals the deployment page's table shows, and its key's digest (`ip=<address>`, as logs name it). */
const REFUSED_IP = '198.51.100.88';
const REFUSED_DIGEST = createHash('sha256').update(`ip=${REFUSED_IP}`).digest('hex').slice(0, 16);

/** A time as the SQL API writes it, and back. */
const sqlTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const fromSqlTime = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);

/** The query the deployment page's charts send for the `hours` whole hours up to the one holding `now`. */
function decisionsSql(now: number, hours: number): string {
  const end = Math.floor(now / HOUR) * HOUR + HOUR;
  return `SELECT toStartOfHour(timestamp) AS hour, blob1 AS rule, blob2 AS event, SUM(_sample_interval * double1) AS count
FROM ${DATASET}
WHERE blob1 != '.usage' AND blob2 IN ('allowed', 'refused', 'shadow_refused')
  AND timestamp >= toDateTime('${sqlTime(end - hours * HOUR)}') AND timestamp < toDateTime('${sqlTime(end)}')
GROUP BY hour, rule, event
ORDER BY hour, rule, event
FORMAT JSON`;
}

/** The query the most refused keys of one rule are read with, over `[start, end)`. */
function topRefusedSql(rule: string, start: number, end: number): string {
  return `SELECT blob1 AS rule, blob3 AS key, SUM(_sample_interval * double1) AS refusals, MAX(timestamp) AS last_seen
FROM ${DATASET}
WHERE index1 = '${rule}' AND blob1 = '${rule}' AND blob2 = 'refused' AND blob3 != ''
  AND timestamp >= toDateTime('${sqlTime(start)}') AND timestamp < toDateTime('${sqlTime(end)}')
GROUP BY rule, key
ORDER BY refusals DESC, key
LIMIT 10
FORMAT JSON`;
}

/** The query a subject's usage from `from` to `to` (days, both included) is read with. */
function usageSql(subject: string, from: string, to: string): string {
  const end = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return `SELECT toStartOfDay(timestamp) AS day, blob2 AS subject, blob3 AS org,
  SUM(_sample_interval * double1) AS allowed, SUM(_sample_interval * double2) AS refused, SUM(_sample_interval * double3) AS units
FROM ${DATASET}
WHERE blob1 = '.usage' AND index1 = '${subject}'
  AND timestamp >= toDateTime('${from} 00:00:00') AND timestamp < toDateTime('${end} 00:00:00')
GROUP BY day, subject, org
ORDER BY day, subject, org
FORMAT JSON`;
}

/** The `[start, end)` a query reads, from its `timestamp >= … AND timestamp < …`. */
function rangeOf(sql: string): [number, number] {
  const m = sql.match(/timestamp >= toDateTime\('([^']+)'\) AND timestamp < toDateTime\('([^']+)'\)/);
  if (!m) throw new Error(`no time range in ${sql}`);
  return [fromSqlTime(m[1]!), fromSqlTime(m[2]!)];
}

/** Canned decisions per hour for a range of `n` hours: per-ip two hours and five hours before the end, login in the last hour. */
function decisionRows(start: number, end: number) {
  const n = (end - start) / HOUR;
  const rows: Array<{ hour: string; rule: string; event: string; count: number }> = [];
  const at = (i: number, rule: string, event: string, count: number) => {
    if (i >= 0) rows.push({ hour: sqlTime(start + i * HOUR), rule, event, count });
  };
  at(n - 5, 'per-ip', 'allowed', 25);
  at(n - 5, 'per-ip', 'refused', 3);
  at(n - 2, 'per-ip', 'allowed', 40);
  at(n - 2, 'per-ip', 'refused', 11);
  at(n - 2, 'per-ip', 'shadow_refused', 2);
  at(n - 1, 'login', 'refused', 4);
  return rows;
}

/** What the chart of a rule should hold per hour for an event, from the same canned rows. */
function expectedSeries(rule: string, event: string, start: number, n: number): number[] {
  const series = new Array<number>(n).fill(0);
  for (const row of decisionRows(start, start + n * HOUR))
    if (row.rule === rule && row.event === event) series[(fromSqlTime(row.hour) - start) / HOUR] = row.count;
  return series;
}

/** Canned most refused keys: two for per-ip (the address the test refused first), one for login. */
function topRefusedRows(sql: string, end: number) {
  if (sql.includes("index1 = 'per-ip'"))
    return [
      { rule: 'per-ip', key: REFUSED_DIGEST, refusals: 11, last_seen: sqlTime(end - 2 * HOUR + 754_000) },
      { rule: 'per-ip', key: '9b1d5e0c7f3a2d11', refusals: 3, last_seen: sqlTime(end - 5 * HOUR + 61_000) },
    ];
  if (sql.includes("index1 = 'login'"))
    return [{ rule: 'login', key: 'c0ffee0012345678', refusals: 4, last_seen: sqlTime(end - HOUR + 5_000) }];
  return [];
}

/** Canned usage of a customer on the first, third and sixth day of the range. */
const USAGE_DAYS = [
  { offset: 0, allowed: 120, refused: 0, units: 240 },
  { offset: 2, allowed: 80, refused: 7, units: 80 },
  { offset: 5, allowed: 30, refused: 2, units: 45 },
];

function answer(sql: string): Array<Record<string, unknown>> {
  const [start, end] = rangeOf(sql);
  if (sql.includes("blob1 = '.usage'"))
    return USAGE_DAYS.map((d) => ({ day: sqlTime(start + d.offset * 86_400_000), subject: 'user-42', org: 'acme', ...d }));
  if (sql.includes('toStartOfHour(timestamp)')) return decisionRows(start, end);
  if (sql.includes('blob3 AS key')) return topRefusedRows(sql, end);
  throw new Error(`an unexpected query: ${sql}`);
}

let dev: DevServer;
let chromium: Chromium;
let browser: Browser;
let analytics: AnalyticsSqlStandIn;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  analytics = await startAnalyticsSql(answer);
  dev = await startDev([], {
    ADMIN_TOKEN: TOKEN,
    ANALYTICS_ACCOUNT_ID: ACCOUNT,
    ANALYTICS_API_TOKEN: SQL_TOKEN,
    ANALYTICS_DATASET: DATASET,
    ANALYTICS_SQL_URL: analytics.url,
  });
  chromium = await launchChromium();
  browser = chromium.browser;
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  await dev?.stop();
  await analytics?.close();
});

async function signedIn(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${dev.url}/_ratelimit/dashboard`);
  await page.fill('#token', TOKEN);
  await page.click('#sign-in');
  await page.waitForSelector('#rules');
  return page;
}

/** The queries the stand-in received since `mark`, each checked to have gone to the account's SQL path with the token. */
function queriesSince(mark: number): string[] {
  const sent = analytics.sent.slice(mark);
  for (const q of sent) {
    expect(q.path).toBe(`/client/v4/accounts/${ACCOUNT}/analytics_engine/sql`);
    expect(q.authorization).toBe(`Bearer ${SQL_TOKEN}`);
  }
  return sent.map((q) => q.sql);
}

/** What a decisions chart draws, as the browser parsed it: per line, its event, values and points, and the chart's laid-out size. */
function chartOf(page: Page, rule: string) {
  return page.locator(`svg.decisions-chart[data-rule="${rule}"]`).evaluate((svg) => {
    const lines = Array.from(svg.querySelectorAll('polyline')).map((line) => ({
      event: line.getAttribute('data-event'),
      values: line.getAttribute('data-values'),
      points: Array.from({ length: line.points.numberOfItems }, (_, i) => line.points.getItem(i)).map((p) => [p.x, p.y]),
    }));
    const box = svg.getBoundingClientRect();
    return { lines, width: box.width, height: box.height, labels: Array.from(svg.querySelectorAll('text')).map((t) => t.textContent) };
  });
}

describe('the dashboard in a real browser', () => {
  it('signs in, shows refusals, saves an override through its form and looks a key up', async () => {
    // Refusals for the dashboard to show: 11 requests from one address against 10 per minute.
    const ip = '198.51.100.77';
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const response = await fetch(`${dev.url}/items`, { headers: { 'CF-Connecting-IP': ip } });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses.at(-1)).toBe(429);

    const page = await browser.newPage();
    await page.goto(`${dev.url}/_ratelimit/dashboard`);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-sign-in.png') });
    await page.fill('#token', 'not the token');
    await page.click('#sign-in');
    expect(await page.textContent('#login-error')).toContain('not the admin token');
    await page.fill('#token', TOKEN);
    await page.click('#sign-in');
    await page.waitForSelector('#rules');
    expect(await page.textContent('#rules')).toContain('per-ip');
    expect(await page.textContent('#refusals')).toContain('per-ip');
    expect(await page.textContent('#counters')).toContain('per-ip');

    const override = page.locator('#override-form');
    await override.locator('select[name=rule]').selectOption('per-ip');
    await override.locator('input[name=value]').fill('198.51.100.78');
    await override.locator('input[name=limit]').fill('2');
    await override.locator('input[name=window]').fill('1m');
    await override.locator('input[name=reason]').fill('browser test');
    await override.locator('button[type=submit]').click();
    await page.waitForSelector('#notice');
    expect(await page.textContent('#notice')).toContain('Saved override:per-ip:key:198.51.100.78');
    expect(await page.textContent('#overrides')).toContain('browser test');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-override-saved.png'), fullPage: true });

    // The override is live for that address: its third request is refused.
    const limited: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${dev.url}/items`, { headers: { 'CF-Connecting-IP': '198.51.100.78' } });
      await response.arrayBuffer();
      limited.push(response.status);
    }
    expect(limited).toEqual([200, 200, 429]);

    const lookup = page.locator('#lookup-form');
    await lookup.locator('select[name=rule]').selectOption('per-ip');
    await lookup.locator('select[name=by]').selectOption('ip');
    await lookup.locator('input[name=value]').fill(ip);
    await lookup.locator('button[type=submit]').click();
    await page.waitForSelector('#lookup-result');
    expect(await page.textContent('#lookup-result')).toContain('0 of 10');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-key-lookup.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('keeps a refused form as typed with the error beside the field, redirects a good post so a reload does not post again, cancels an edit, fits 390 px and signs out', async () => {
    const page = await browser.newPage();
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
    });
    await page.goto(`${dev.url}/_ratelimit/dashboard`);
    await page.fill('#token', TOKEN);
    await page.click('#sign-in');
    await page.waitForSelector('#rules');

    // A bad window: 400, the form as typed, the error beside the field and named as the form labels it.
    const override = page.locator('#override-form');
    await override.locator('select[name=rule]').selectOption('per-ip');
    await override.locator('input[name=value]').fill('198.51.100.90');
    await override.locator('input[name=limit]').fill('5');
    await override.locator('input[name=window]').fill('soon');
    await override.locator('input[name=reason]').fill('typed once');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      override.locator('button[type=submit]').click(),
    ]);
    expect(refused.status()).toBe(400);
    await page.waitForSelector('#override-form-window-error');
    expect(await page.textContent('#override-form-window-error')).toMatch(/^Window: /);
    expect(await page.locator('#override-form input[name=value]').inputValue()).toBe('198.51.100.90');
    expect(await page.locator('#override-form input[name=window]').inputValue()).toBe('soon');
    expect(await page.locator('#override-form input[name=reason]').inputValue()).toBe('typed once');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-field-error.png'), fullPage: true });

    // A good post redirects (303) to the page, which shows what was done once.
    await page.locator('#override-form input[name=window]').fill('1m');
    const [saved] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.locator('#override-form button[type=submit]').click(),
    ]);
    expect(saved.status()).toBe(303);
    await page.waitForSelector('#notice');
    expect(new URL(page.url()).pathname).toBe('/_ratelimit/dashboard');
    expect(await page.textContent('#notice')).toContain('Saved override:per-ip:key:198.51.100.90');
    const postsBeforeReload = posts.length;
    await page.reload();
    await page.waitForSelector('#rules');
    expect(posts.length).toBe(postsBeforeReload);
    expect(await page.locator('#notice').count()).toBe(0);

    // Cancel an edit: the form is empty again and says so.
    await page.locator('#overrides a.edit').first().click();
    await page.waitForSelector('#cancel-edit');
    expect(await page.textContent('#override-form button[type=submit]')).toBe('Save changes');
    await page.click('#cancel-edit');
    await page.waitForSelector('#override-form');
    expect(await page.locator('#cancel-edit').count()).toBe(0);
    expect(await page.textContent('#override-form button[type=submit]')).toBe('Save override');
    expect(await page.locator('#override-form input[name=value]').inputValue()).toBe('');

    // A phone-sized window: nothing scrolls sideways, with a key looked up and an override listed.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${dev.url}/_ratelimit/dashboard?rule=per-ip&by=ip&value=198.51.100.90`);
    await page.waitForSelector('#lookup-result');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-390px.png'), fullPage: true });

    // Sign out: back to the sign-in form, and the page asks again.
    await page.click('#sign-out');
    await page.waitForSelector('#token');
    await page.goto(`${dev.url}/_ratelimit/dashboard`);
    expect(await page.locator('#token').count()).toBe(1);
    expect(await page.locator('#rules').count()).toBe(0);
    await page.close();
  }, 120_000);

  it("draws the deployment's decisions per hour and its most refused keys from the SQL API's answers, for the range chosen", async () => {
    // Refusals in this isolate, to compare the per-isolate view with the deployment's.
    for (let i = 0; i < 11; i++) await (await fetch(`${dev.url}/items`, { headers: { 'CF-Connecting-IP': REFUSED_IP } })).arrayBuffer();
    const page = await signedIn();
    expect(await page.textContent('#refusals')).toContain(REFUSED_DIGEST);
    // The per-isolate view stays, labelled for what it is, and points to the deployment's.
    expect(await page.locator('h2', { hasText: 'Recent refusals' }).textContent()).toBe('Recent refusals in this isolate');

    const mark = analytics.sent.length;
    const before = Date.now();
    await page.click('#top-refused-link');
    await page.waitForSelector('#top-refused');
    const after = Date.now();

    // The queries: one for the chart, one per rule for the table, all over the same 24 whole hours.
    const sent = queriesSince(mark);
    const charted = sent.filter((sql) => sql.includes('toStartOfHour'));
    expect(charted).toHaveLength(1);
    expect([decisionsSql(before, 24), decisionsSql(after, 24)]).toContain(charted[0]);
    const [start, end] = rangeOf(charted[0]!);
    expect(end - start).toBe(24 * HOUR);
    const rules = await page.locator('svg.decisions-chart').evaluateAll((svgs) => svgs.map((s) => s.getAttribute('data-rule')));
    expect(rules).toContain('per-ip');
    expect(rules).toContain('login');
    const tabled = sent.filter((sql) => sql.includes('blob3 AS key'));
    const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
    expect(tabled.sort()).toEqual(rules.map((rule) => topRefusedSql(rule!, start, end)).sort());
    expect(sent).toHaveLength(1 + rules.length);

    // The charts: a line per decision, a point per hour, at the canned counts; laid out, with its scale and legend.
    const perIp = await chartOf(page, 'per-ip');
    expect(perIp.width).toBeGreaterThan(0);
    expect(perIp.height).toBeGreaterThan(0);
    expect(perIp.lines.map((l) => l.event)).toEqual(['allowed', 'refused', 'shadow_refused']);
    for (const line of perIp.lines) {
      expect(line.points).toHaveLength(24);
      expect(line.values).toBe(expectedSeries('per-ip', line.event!, start, 24).join(','));
    }
    expect(perIp.labels).toEqual(['40', '0', 'allowed', 'refused', 'shadow-refused']);
    // Heights follow the counts: the baseline at zero, 40 at the top, 11 a little over a quarter up.
    const [zeroY, topY] = [perIp.lines[0]!.points[0]![1], perIp.lines[0]!.points[22]![1]];
    expect(topY).toBeLessThan(zeroY!);
    expect(perIp.lines[1]!.points[22]![1]).toBeCloseTo(zeroY! - (11 / 40) * (zeroY! - topY!), 1);
    expect((await chartOf(page, 'login')).lines[1]!.values).toBe(expectedSeries('login', 'refused', start, 24).join(','));

    // The table: each rule's keys in policy order, most refused first, by digest only.
    const rows = await page
      .locator('#top-refused tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['per-ip', REFUSED_DIGEST, '11', iso(end - 2 * HOUR + 754_000)],
      ['per-ip', '9b1d5e0c7f3a2d11', '3', iso(end - 5 * HOUR + 61_000)],
      ['login', 'c0ffee0012345678', '4', iso(end - HOUR + 5_000)],
    ]);
    expect(await page.locator('#top-refused thead th').allTextContents()).toEqual(['Rule', 'Key (digest)', 'Refusals', 'Last seen (UTC)']);
    expect(await page.textContent('body')).not.toContain(REFUSED_IP);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-deployment-24h.png'), fullPage: true });

    // Six hours: the chart and the table read the shorter range.
    const mark6 = analytics.sent.length;
    const before6 = Date.now();
    await page.selectOption('#range-hours', '6');
    await Promise.all([page.waitForURL(/hours=6/), page.click('#range-show')]);
    await page.waitForSelector('#top-refused');
    const after6 = Date.now();
    const sent6 = queriesSince(mark6);
    const charted6 = sent6.find((sql) => sql.includes('toStartOfHour'))!;
    expect([decisionsSql(before6, 6), decisionsSql(after6, 6)]).toContain(charted6);
    const [start6, end6] = rangeOf(charted6);
    for (const sql of sent6) expect(rangeOf(sql)).toEqual([start6, end6]);
    const perIp6 = await chartOf(page, 'per-ip');
    for (const line of perIp6.lines) {
      expect(line.points).toHaveLength(6);
      expect(line.values).toBe(expectedSeries('per-ip', line.event!, start6, 6).join(','));
    }
    expect(await page.locator('#range-hours').inputValue()).toBe('6');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-deployment-6h.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it("draws a customer's usage per day from the SQL API's answer, bars and table", async () => {
    const page = await signedIn();
    await page.click('#usage-link');
    await page.waitForSelector('#usage-value');
    const mark = analytics.sent.length;
    await page.selectOption('#usage-by', 'subject');
    await page.fill('#usage-value', 'user-42');
    await page.fill('#usage-from', '2026-11-01');
    await page.fill('#usage-to', '2026-11-07');
    await page.click('#usage-show');
    await page.waitForSelector('#usage-chart');

    expect(queriesSince(mark)).toEqual([usageSql('user-42', '2026-11-01', '2026-11-07')]);

    // A bar per day of the range, empty where there were no points; heights in proportion (the busiest day fills the plot).
    const bars = await page.locator('#usage-chart g[data-day]').evaluateAll((groups) =>
      groups.map((g) => {
        const [allowed, refused] = Array.from(g.querySelectorAll('rect'));
        return {
          day: g.getAttribute('data-day'),
          allowed: Number(g.getAttribute('data-allowed')),
          refused: Number(g.getAttribute('data-refused')),
          heights: [allowed!.getBoundingClientRect().height, refused!.getBoundingClientRect().height],
          svgHeights: [Number(allowed!.getAttribute('height')), Number(refused!.getAttribute('height'))],
        };
      }),
    );
    expect(bars.map((b) => [b.day, b.allowed, b.refused])).toEqual([
      ['2026-11-01', 120, 0],
      ['2026-11-02', 0, 0],
      ['2026-11-03', 80, 7],
      ['2026-11-04', 0, 0],
      ['2026-11-05', 0, 0],
      ['2026-11-06', 30, 2],
      ['2026-11-07', 0, 0],
    ]);
    expect(bars.map((b) => b.svgHeights)).toEqual([
      [200, 0],
      [0, 0],
      [133.3, 11.7],
      [0, 0],
      [0, 0],
      [50, 3.3],
      [0, 0],
    ]);
    for (const b of bars) {
      expect(b.heights[0]! > 0).toBe(b.allowed > 0);
      expect(b.heights[1]! > 0).toBe(b.refused > 0);
    }
    expect(await page.locator('#usage-chart text').allTextContents()).toEqual(['120', '0', '2026-11-01', '2026-11-07']);
    expect(await page.getAttribute('#usage-chart', 'aria-label')).toBe('Allowed and refused requests per day, 2026-11-01 to 2026-11-07');

    // The table: the days with points, and the totals above the chart.
    const rows = await page
      .locator('#usage-days tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['2026-11-01', 'user-42', 'acme', '120', '0', '240'],
      ['2026-11-03', 'user-42', 'acme', '80', '7', '80'],
      ['2026-11-06', 'user-42', 'acme', '30', '2', '45'],
    ]);
    expect(await page.textContent('main')).toContain('subject user-42, 2026-11-01 to 2026-11-07: 230 allowed, 9 refused, 365 units');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-usage.png'), fullPage: true });
    await page.close();
  }, 120_000);
});
