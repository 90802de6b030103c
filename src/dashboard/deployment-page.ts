import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { DecisionHour } from '../operations/decisions';
import type { RefusedKey } from '../operations/top-refused';
import { decisionsChart } from './decisions-chart';
import { layout } from './page';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface DeploymentPageData {
  readonly base: string;
  readonly policy: string;
  /** The policy's rules, in policy order: each gets a chart, even without points. */
  readonly rules: readonly string[];
  /** Start of the first hour charted, epoch ms, and how many hours. */
  readonly start: number;
  readonly hours: number;
  readonly decisions?: readonly DecisionHour[];
  /** Why there is nothing to chart: bad input, the SQL API not available here, or failing. */
  readonly error?: string;
  readonly sql?: string;
  /** Each rule's most refused keys over the same hours. */
  readonly topRefused?: readonly RefusedKey[];
  readonly topRefusedError?: string;
  readonly topRefusedSql?: string;
}

/** The spans of time the page offers, in hours, with their labels. */
const SPANS: ReadonlyArray<readonly [number, string]> = [
  [1, 'the last hour'],
  [6, 'the last 6 hours'],
  [24, 'the last 24 hours'],
  [72, 'the last 3 days'],
  [168, 'the last 7 days'],
];

/**
 * Decisions across the whole deployment, from Analytics Engine: each rule's
 * allowed, refused and shadow-refused requests per hour, and each rule's
 * most refused keys (by digest), whatever isolate served them (the main
 * page's counters and recent refusals are one isolate's).
 */
export function deploymentPage(d: DeploymentPageData): Html {
  const from = new Date(d.start).toISOString().slice(0, 16).replace('T', ' ');
  const to = new Date(d.start + d.hours * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
  return layout(
    'edge-ratelimit: decisions across the deployment',
    html`<header><h1>edge-ratelimit · policy <code>${d.policy}</code> · decisions across the deployment</h1><a href="${d.base}" style="color:#fff">Back to the dashboard</a></header>
      <main>
        <section>
          <form method="get" action="${d.base}/deployment" class="row" id="range-form">
            <label>Range <select name="hours" id="range-hours">${SPANS.map(([h, label]) => html`<option value="${h}" ${h === d.hours ? 'selected' : ''}>${label}</option>`)}</select></label>
            <button type="submit" id="range-show">Show</button>
          </form>
          <h2>Decisions per hour, every isolate, ${d.hours} hour${d.hours === 1 ? '' : 's'} from ${from} to ${to} UTC</h2>
          <p class="muted">From the data points every isolate writes to Analytics Engine, weighted by its sampling. The dashboard's own counters and recent refusals are those of the one isolate that served the page.</p>
          ${d.error ? html`<p class="bad" id="deployment-error" role="status">${d.error}</p>` : ''}
          ${d.sql ? html`<p class="muted">The query it would send:</p><pre id="deployment-sql"><code>${d.sql}</code></pre>` : ''}
        </section>
        ${topRefusedSection(d)}
        ${d.decisions ? d.rules.map((rule) => html`<section><h2>Rule <code>${rule}</code></h2>${raw(decisionsChart(rule, d.decisions!, d.start, d.hours))}</section>`) : ''}
      </main>`,
  );
}

function topRefusedSection(d: DeploymentPageData): Html {
  const keys = d.topRefused;
  return html`<section>
    <h2>Most refused keys, every isolate</h2>
    <p class="muted">Each rule's keys with the most refusals over the same hours, named by the digest logs use (never the key itself); shadow refusals are not counted.</p>
    ${d.topRefusedError ? html`<p class="bad" id="top-refused-error" role="status">${d.topRefusedError}</p>` : ''}
    ${d.topRefusedSql ? html`<p class="muted">The queries it would send:</p><pre id="top-refused-sql"><code>${d.topRefusedSql}</code></pre>` : ''}
    ${
      keys
        ? html`<table id="top-refused"><thead><tr><th>Rule</th><th>Key (digest)</th><th>Refusals</th><th>Last seen (UTC)</th></tr></thead><tbody>
            ${keys.map((k) => html`<tr data-rule="${k.rule}" data-key="${k.key}"><td><code>${k.rule}</code></td><td><code>${k.key}</code></td><td>${k.refusals}</td><td>${k.lastSeen}</td></tr>`)}
          </tbody></table>
          ${keys.length === 0 ? html`<p class="muted" id="top-refused-none">No refusals of a known key in this range.</p>` : ''}`
        : ''
    }
  </section>`;
}
