import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { UsageDay } from '../operations/usage';
import { layout } from './page';
import { usageChart } from './usage-chart';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface UsagePageData {
  readonly base: string;
  readonly policy: string;
  /** The form as typed. */
  readonly values: Readonly<Record<string, string>>;
  readonly result?: { readonly from: string; readonly to: string; readonly days: readonly UsageDay[] };
  /** Why there is no result: bad input (naming the field), or the SQL API not available here. */
  readonly error?: string;
  /** The query that would be sent, where the SQL API is not available. */
  readonly sql?: string;
}

/** The dashboard's usage page: a customer's allowed and refused requests and cost units per day, charted and tabled. */
export function usagePage(d: UsagePageData): Html {
  const v = d.values;
  const by = v.by === 'org' ? 'org' : 'subject';
  const total = d.result?.days.reduce(
    (t, day) => ({ allowed: t.allowed + day.allowed, refused: t.refused + day.refused, units: t.units + day.units }),
    { allowed: 0, refused: 0, units: 0 },
  );
  return layout(
    `edge-ratelimit: usage`,
    html`<header><h1>edge-ratelimit · policy <code>${d.policy}</code> · usage</h1><a href="${d.base}" style="color:#fff">Back to the dashboard</a></header>
      <main>
        <section>
          <h2>Usage per customer</h2>
          <form method="get" action="${d.base}/usage" class="row">
            <label>By <select name="by" id="usage-by"><option value="subject" ${by === 'subject' ? 'selected' : ''}>subject</option><option value="org" ${by === 'org' ? 'selected' : ''}>org</option></select></label>
            <label>Value <input name="value" id="usage-value" value="${v.value ?? ''}" required /></label>
            <label>From (UTC day) <input name="from" id="usage-from" value="${v.from ?? ''}" placeholder="2026-11-01" /></label>
            <label>To (UTC day) <input name="to" id="usage-to" value="${v.to ?? ''}" placeholder="2026-11-30" /></label>
            <button type="submit" id="usage-show">Show</button>
          </form>
          ${d.error ? html`<p class="bad" id="usage-error" role="status">${d.error}</p>` : ''}
          ${d.sql ? html`<p class="muted">The query it would send:</p><pre id="usage-sql"><code>${d.sql}</code></pre>` : ''}
        </section>
        ${
          d.result && total
            ? html`<section>
              <h2>${by} <code>${v.value}</code>, ${d.result.from} to ${d.result.to}: ${total.allowed} allowed, ${total.refused} refused, ${total.units} units</h2>
              ${raw(usageChart(d.result.days, d.result.from, d.result.to))}
              <table id="usage-days"><thead><tr><th>Day</th><th>Subject</th><th>Org</th><th>Allowed</th><th>Refused</th><th>Units</th></tr></thead><tbody>
                ${d.result.days.map((day) => html`<tr><td>${day.day}</td><td><code>${day.subject}</code></td><td>${day.org}</td><td>${day.allowed}</td><td>${day.refused}</td><td>${day.units}</td></tr>`)}
              </tbody></table>
            </section>`
            : ''
        }
      </main>`,
  );
}
