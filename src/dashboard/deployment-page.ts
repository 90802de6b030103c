import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { DecisionHour } from '../operations/decisions';
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
  /** Why there is nothing to chart: the SQL API not available here, or failing. */
  readonly error?: string;
  readonly sql?: string;
}

/**
 * Decisions across the whole deployment, from Analytics Engine: each rule's
 * allowed, refused and shadow-refused requests per hour, whatever isolate
 * served them (the main page's counters are one isolate's).
 */
export function deploymentPage(d: DeploymentPageData): Html {
  const from = new Date(d.start).toISOString().slice(0, 16).replace('T', ' ');
  return layout(
    'edge-ratelimit: decisions across the deployment',
    html`<header><h1>edge-ratelimit · policy <code>${d.policy}</code> · decisions across the deployment</h1><a href="${d.base}" style="color:#fff">Back to the dashboard</a></header>
      <main>
        <section>
          <h2>Decisions per hour, every isolate, the last ${d.hours} hours (from ${from} UTC)</h2>
          <p class="muted">From the data points every isolate writes to Analytics Engine, weighted by its sampling. The dashboard's own counters are those of the one isolate that served the page.</p>
          ${d.error ? html`<p class="bad" id="deployment-error" role="status">${d.error}</p>` : ''}
          ${d.sql ? html`<p class="muted">The query it would send:</p><pre id="deployment-sql"><code>${d.sql}</code></pre>` : ''}
        </section>
        ${d.decisions ? d.rules.map((rule) => html`<section><h2>Rule <code>${rule}</code></h2>${raw(decisionsChart(rule, d.decisions!, d.start, d.hours))}</section>`) : ''}
      </main>`,
  );
}
