import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { DeliveryFailure } from '../notifications/deliver';
import type { MetricEvent } from '../observability/metrics';
import type { ListEntry, MalformedEntry, OverrideEntry } from '../overrides/live-config';
import type { CompiledPolicy } from '../policy/compile';
import { formatDuration } from '../policy/duration';
import type { Flash } from './flash';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE = `
*,*::before,*::after{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;gap:8px;align-items:center;justify-content:space-between}
header h1{font-size:18px;margin:0;overflow-wrap:anywhere}header code{background:#3a4254;color:#fff}
main{padding:16px 24px;display:grid;grid-template-columns:minmax(0,1fr);gap:16px;max-width:1200px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;min-width:0;overflow-x:auto}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}th{font-weight:600;color:#566}
td code{overflow-wrap:anywhere}
code{font-size:12px;background:#f1f3f6;padding:1px 4px;border-radius:3px}
form.inline{display:inline}form.row{display:flex;flex-wrap:wrap;gap:6px;align-items:end;margin-top:8px}
label{display:flex;flex-direction:column;font-size:12px;color:#566;min-width:0;max-width:100%}input,select{font:inherit;padding:3px 6px;max-width:100%;min-width:0}
.field-error{font-size:12px;max-width:16em}
button{font:inherit;padding:3px 10px;cursor:pointer}.bad{color:#a11}.ok{color:#171}.muted{color:#788}
#notice,p{overflow-wrap:anywhere}
@media (max-width:600px){header,main{padding-left:8px;padding-right:8px}section{padding:8px}}
`;

export function layout(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    <style>${raw(STYLE)}</style>
  </head>
  <body>
    ${body}
  </body>
</html>`;
}

export function loginPage(action: string, failed: boolean): Html {
  return layout(
    'edge-ratelimit: sign in',
    html`<header><h1>edge-ratelimit</h1></header>
      <main>
        <section>
          <h2>Sign in</h2>
          ${failed ? html`<p class="bad" id="login-error">That token is not the admin token.</p>` : ''}
          <form method="post" action="${action}" class="row">
            <label>Admin token <input type="password" name="token" id="token" autocomplete="current-password" required /></label>
            <button type="submit" id="sign-in">Sign in</button>
          </form>
        </section>
      </main>`,
  );
}

export interface KeyLookup {
  readonly rule: string;
  readonly by: string;
  readonly value: string;
  readonly result?: {
    readonly key: string;
    readonly limits: ReadonlyArray<{ id: string; limit: number; used: number; remaining: number; resetAt: string }>;
    readonly bans: ReadonlyArray<{ rule: string; bannedUntil: string | null; violations: number }>;
  };
  readonly error?: string;
}

export interface DashboardData {
  readonly base: string;
  readonly compiled: CompiledPolicy;
  readonly overrides: readonly OverrideEntry[];
  readonly lists: readonly ListEntry[];
  readonly malformed: readonly MalformedEntry[];
  readonly counts: Readonly<Record<string, Partial<Record<MetricEvent, number>>>>;
  readonly recent: ReadonlyArray<{ at: number; rule: string; key: string; limit: string }>;
  readonly lookup?: KeyLookup;
  /** The override whose values fill the form, when one is being edited. */
  readonly editing?: OverrideEntry;
  /** A form sent back as typed, with errors beside its fields (by field name). */
  readonly form?: FormState;
  /** The one-time message a redirect left. */
  readonly flash?: Flash;
  /** The last failed delivery of a near-limit notification. */
  readonly notifyFailure?: DeliveryFailure;
}

export interface FormState {
  readonly id: 'override-form' | 'list-form' | 'identity-form';
  readonly values: Readonly<Record<string, string>>;
  readonly errors: Readonly<Record<string, string>>;
}

/** The error beside a field, when the form came back with one. */
function fieldError(form: FormState | undefined, name: string): Html | string {
  const error = form?.errors[name];
  return error
    ? html`<span class="field-error bad" id="${name === '(form)' ? `${form!.id}-error` : `${form!.id}-${name}-error`}" role="alert">${error}</span>`
    : '';
}

/** `2026-12-31T23:00:00.000Z` as a `datetime-local` input's value (UTC). */
const localInput = (iso: string | undefined) => (iso ? iso.slice(0, 16) : '');

const EVENTS: readonly MetricEvent[] = ['allowed', 'refused', 'shadow_refused', 'fail_open', 'fail_closed', 'blocked', 'banned'];

function rulesTable(compiled: CompiledPolicy): Html {
  return html`<table id="rules">
    <tr><th>rule</th><th>applies to</th><th>key</th><th>limits</th><th></th></tr>
    ${compiled.rules.map((r) => {
      const m = r.rule.match;
      const applies =
        [
          m.methods?.join(' '),
          m.hosts?.join(' '),
          m.paths?.join(' '),
          m.exceptPaths && `except ${m.exceptPaths.join(' ')}`,
          m.tiers && `tiers ${m.tiers.join(', ')}`,
        ]
          .filter(Boolean)
          .join(' · ') || 'every request';
      return html`<tr>
        <td><code>${r.name}</code></td>
        <td>${applies}</td>
        <td><code>${r.keySignature}</code></td>
        <td>${r.limits.map((l) => html`<div>${l.config.limit}${l.config.burst ? ` (burst ${l.config.burst})` : ''} / ${formatDuration(l.config.windowMs)} <span class="muted">${l.config.algorithm}${l.countWhen ? ', counted by outcome' : ''}</span></div>`)}</td>
        <td class="muted">${[r.rule.shadow && 'shadow', r.rule.countRefused && 'counts refusals', r.rule.ban && `bans after ${r.rule.ban.after}`, `fail ${r.onError.mode} after ${r.onError.timeoutMs} ms`].filter(Boolean).join(', ')}</td>
      </tr>`;
    })}
  </table>`;
}

function overridesSection(d: DashboardData): Html {
  const rules = ['*', ...d.compiled.rules.map((r) => r.name)];
  return html`<section>
    <h2>Overrides</h2>
    <table id="overrides">
      <tr><th>rule</th><th>target</th><th>limits</th><th>expires</th><th>reason</th><th></th></tr>
      ${d.overrides.map(
        (o) => html`<tr>
          <td><code>${o.rule}</code></td>
          <td><code>${o.kind}:${o.value}</code></td>
          <td>${'exempt' in o.value_ ? html`<b>exempt</b>` : o.value_.limits.map((l) => html`<div>${l.limit} / ${formatDuration(l.window)}</div>`)}</td>
          <td>${o.value_.expires ?? ''}</td>
          <td>${o.value_.reason ?? ''}</td>
          <td>
            ${
              'limits' in o.value_ && o.value_.limits.length > 1
                ? html`<span class="muted">several limits: edit with the admin API</span>`
                : html`<a href="${d.base}?edit=${encodeURIComponent(o.key)}#override-form" class="edit">Edit</a>`
            }
            <form method="post" action="${d.base}/overrides/delete" class="inline"><input type="hidden" name="key" value="${o.key}" /><button type="submit">Delete</button></form>
          </td>
        </tr>`,
      )}
    </table>
    ${d.overrides.length === 0 ? html`<p class="muted">No overrides: every key has the policy's limits.</p>` : ''}
    ${overrideForm(d, rules)}
  </section>`;
}

/**
 * The override form, filled with the values of the override being edited
 * (saving it replaces that entry), or with what was typed when a post was
 * refused.
 */
function overrideForm(d: DashboardData, rules: readonly string[]): Html {
  const sent = d.form?.id === 'override-form' ? d.form : undefined;
  const e = d.editing;
  const limit = e && 'limits' in e.value_ ? e.value_.limits[0] : undefined;
  const v = sent?.values ?? {
    rule: e?.rule ?? '',
    kind: e?.kind ?? '',
    value: e?.value ?? '',
    limit: limit ? String(limit.limit) : '',
    window: limit ? formatDuration(limit.window) : '',
    exempt: e && 'exempt' in e.value_ ? 'true' : '',
    expires: localInput(e?.value_.expires),
    reason: e?.value_.reason ?? '',
    edit: e?.key ?? '',
  };
  const invalid = (name: string) => (sent?.errors[name] ? raw('aria-invalid="true"') : '');
  const editingKey = v.edit ?? '';
  return html`<form method="post" action="${d.base}/overrides" class="row" id="override-form">
      ${editingKey ? html`<input type="hidden" name="edit" value="${editingKey}" />` : ''}
      <label>Rule <select name="rule" ${invalid('rule')}>${rules.map((r) => html`<option ${v.rule === r ? 'selected' : ''}>${r}</option>`)}</select>${fieldError(sent, 'rule')}</label>
      <label>Target <select name="kind" ${invalid('kind')}>${['key', 'subject', 'org'].map((k) => html`<option ${v.kind === k ? 'selected' : ''}>${k}</option>`)}</select>${fieldError(sent, 'kind')}</label>
      <label>Value <input name="value" required placeholder="192.0.2.7 or acme-*" value="${v.value ?? ''}" ${invalid('value')} />${fieldError(sent, 'value')}</label>
      <label>Limit <input name="limit" type="number" min="0" placeholder="50000" value="${v.limit ?? ''}" ${invalid('limit')} />${fieldError(sent, 'limit')}</label>
      <label>Window <input name="window" placeholder="1h" value="${v.window ?? ''}" ${invalid('window')} />${fieldError(sent, 'window')}</label>
      <label>Exempt <input name="exempt" type="checkbox" value="true" ${v.exempt === 'true' ? 'checked' : ''} />${fieldError(sent, 'exempt')}</label>
      <label>Expires (UTC) <input name="expires" type="datetime-local" value="${v.expires ?? ''}" ${invalid('expires')} />${fieldError(sent, 'expires')}</label>
      <label>Reason <input name="reason" value="${v.reason ?? ''}" ${invalid('reason')} />${fieldError(sent, 'reason')}</label>
      <button type="submit">${editingKey ? 'Save changes' : 'Save override'}</button>${fieldError(sent, '(form)')}
      ${editingKey ? html`<a href="${d.base}" id="cancel-edit">Cancel</a>` : ''}
    </form>`;
}

function listsSection(d: DashboardData): Html {
  return html`<section>
    <h2>Allow and block lists</h2>
    <table id="lists">
      <tr><th>list</th><th>entry</th><th>reason</th><th>expires</th><th></th></tr>
      ${d.lists.map(
        (
          e,
        ) => html`<tr><td>${e.list}</td><td><code>${e.kind}:${e.value}</code></td><td>${e.value_.reason ?? ''}</td><td>${e.value_.expires ?? ''}</td>
          <td><form method="post" action="${d.base}/lists/delete" class="inline"><input type="hidden" name="key" value="${e.key}" /><button type="submit">Remove</button></form></td></tr>`,
      )}
    </table>
    ${listForm(d)}
    ${
      d.malformed.length > 0
        ? html`<h2 class="bad">Malformed entries (ignored)</h2><table id="malformed">${d.malformed.map((m) => html`<tr><td><code>${m.key}</code></td><td class="bad">${m.errors.join('; ')}</td></tr>`)}</table>`
        : ''
    }
  </section>`;
}

/** The list-entry form, with what was typed when a post was refused. */
function listForm(d: DashboardData): Html {
  const sent = d.form?.id === 'list-form' ? d.form : undefined;
  const v = sent?.values ?? {};
  const invalid = (name: string) => (sent?.errors[name] ? raw('aria-invalid="true"') : '');
  return html`<form method="post" action="${d.base}/lists" class="row" id="list-form">
      <label>List <select name="list" ${invalid('list')}>${['block', 'allow'].map((l) => html`<option ${v.list === l ? 'selected' : ''}>${l}</option>`)}</select>${fieldError(sent, 'list')}</label>
      <label>Kind <select name="kind" ${invalid('kind')}>${['ip', 'country', 'asn', 'credential'].map((k) => html`<option ${v.kind === k ? 'selected' : ''}>${k}</option>`)}</select>${fieldError(sent, 'kind')}</label>
      <label>Value <input name="value" required placeholder="198.51.100.0/24" value="${v.value ?? ''}" ${invalid('value')} />${fieldError(sent, 'value')}</label>
      <label>Reason <input name="reason" value="${v.reason ?? ''}" ${invalid('reason')} />${fieldError(sent, 'reason')}</label>
      <label>Expires (UTC) <input name="expires" type="datetime-local" value="${v.expires ?? ''}" ${invalid('expires')} />${fieldError(sent, 'expires')}</label>
      <button type="submit">Add</button>${fieldError(sent, '(form)')}
    </form>`;
}

/** The identity-record form: the credential is hashed by the server and never shown again. */
function identitySection(d: DashboardData): Html {
  const sent = d.form?.id === 'identity-form' ? d.form : undefined;
  const v = sent?.values ?? {};
  const invalid = (name: string) => (sent?.errors[name] ? raw('aria-invalid="true"') : '');
  const records = d.compiled.policy.identity?.records === true;
  return html`<section>
    <h2>Identity records</h2>
    <p class="muted">${records ? 'The policy reads identity records: a credential the API issued gets its subject, org and tier from one.' : 'This policy reads no identity records (identity.records is not set): a record would never be used, so one is refused.'}</p>
    <form method="post" action="${d.base}/identities" class="row" id="identity-form">
      <label>Credential <input name="credential" type="password" autocomplete="off" required ${invalid('credential')} />${fieldError(sent, 'credential')}</label>
      <label>Subject <input name="subject" required value="${v.subject ?? ''}" ${invalid('subject')} />${fieldError(sent, 'subject')}</label>
      <label>Org <input name="org" value="${v.org ?? ''}" ${invalid('org')} />${fieldError(sent, 'org')}</label>
      <label>Tier <input name="tier" required value="${v.tier ?? ''}" ${invalid('tier')} />${fieldError(sent, 'tier')}</label>
      <button type="submit">Save record</button>${fieldError(sent, '(form)')}
    </form>
  </section>`;
}

function lookupSection(d: DashboardData): Html {
  const l = d.lookup;
  return html`<section>
    <h2>Key lookup</h2>
    <form method="get" action="${d.base}" class="row" id="lookup-form">
      <label>Rule <select name="rule">${d.compiled.rules.map((r) => html`<option ${l?.rule === r.name ? 'selected' : ''}>${r.name}</option>`)}</select></label>
      <label>By <select name="by">${['ip', 'key', 'credential', 'subject', 'org'].map((b) => html`<option ${l?.by === b ? 'selected' : ''}>${b}</option>`)}</select></label>
      <label>Value <input name="value" value="${l?.value ?? ''}" required /></label>
      <button type="submit">Look up</button>
    </form>
    ${l?.error ? html`<p class="bad" id="lookup-error">${l.error}</p>` : ''}
    ${
      l?.result
        ? html`<table id="lookup-result">
          <tr><th>limit</th><th>used</th><th>remaining</th><th>resets</th></tr>
          ${l.result.limits.map((x) => html`<tr><td><code>${x.id}</code></td><td>${x.used}</td><td>${x.remaining} of ${x.limit}</td><td>${x.resetAt}</td></tr>`)}
          ${l.result.limits.length === 0 ? html`<tr><td colspan="4" class="muted">Nothing counted for this key: its whole budget is left.</td></tr>` : ''}
          ${l.result.bans.map(
            (
              b,
            ) => html`<tr><td colspan="3" class="bad">banned by ${b.rule} until ${b.bannedUntil ?? '(expired)'} after ${b.violations} refusals</td>
              <td>${
                b.bannedUntil
                  ? html`<form method="post" action="${d.base}/bans/lift" class="inline" id="lift-ban">
                    <input type="hidden" name="rule" value="${l.rule}" /><input type="hidden" name="by" value="${l.by}" /><input type="hidden" name="value" value="${l.value}" />
                    <button type="submit">Lift ban</button></form>`
                  : ''
              }</td></tr>`,
          )}
        </table>`
        : ''
    }
  </section>`;
}

function activitySection(d: DashboardData): Html {
  return html`<section>
    <h2>Decisions in this isolate (the one that served this page)</h2>
    <table id="counters">
      <tr><th>rule</th>${EVENTS.map((e) => html`<th>${e.replace('_', ' ')}</th>`)}</tr>
      ${Object.entries(d.counts).map(([rule, c]) => html`<tr><td><code>${rule}</code></td>${EVENTS.map((e) => html`<td>${c[e] ?? 0}</td>`)}</tr>`)}
    </table>
    <h2>Recent refusals in this isolate</h2>
    <p class="muted">The last refusals the isolate that served this page made; <a href="${d.base}/deployment" id="top-refused-link">the most refused keys across every isolate</a> are on the deployment page.</p>
    <table id="refusals">
      <tr><th>time</th><th>rule</th><th>limit</th><th>key (digest)</th></tr>
      ${d.recent.map((r) => html`<tr><td>${new Date(r.at).toISOString()}</td><td><code>${r.rule}</code></td><td>${r.limit}</td><td><code>${r.key}</code></td></tr>`)}
    </table>
    ${d.recent.length === 0 ? html`<p class="muted">No refusals seen by this isolate yet.</p>` : ''}
  </section>`;
}

function notificationsSection(d: DashboardData): Html {
  const f = d.notifyFailure;
  return html`<section>
    <h2>Near-limit notifications</h2>
    ${
      f
        ? html`<p class="bad" id="notify-failure">Last failed delivery: ${f.at}, event <code>${f.eventId}</code>, attempt ${f.attempt}: ${f.error}${f.retrying ? ' (retrying)' : ' (given up)'}</p>`
        : html`<p class="muted" id="notify-failure">No failed deliveries.</p>`
    }
  </section>`;
}

export function dashboardPage(d: DashboardData): Html {
  return layout(
    `edge-ratelimit: ${d.compiled.policy.name}`,
    html`<header>
        <h1>edge-ratelimit · policy <code>${d.compiled.policy.name}</code></h1>
        <form method="post" action="${d.base}/logout" class="inline"><button type="submit" id="sign-out">Sign out</button></form>
      </header>
      <main>
        ${d.flash ? html`<p class="${d.flash.kind}" id="notice" role="status">${d.flash.text}</p>` : ''}
        <section><h2>Rules</h2>${rulesTable(d.compiled)}</section>
        <section><h2>Across the deployment</h2><p><a href="${d.base}/deployment" id="deployment-link">Each rule's decisions per hour, every isolate</a> · <a href="${d.base}/usage" id="usage-link">Usage per customer per day, by subject or org</a> (both from Analytics Engine).</p></section>
        ${lookupSection(d)} ${overridesSection(d)} ${listsSection(d)} ${identitySection(d)} ${notificationsSection(d)} ${activitySection(d)}
      </main>`,
  );
}
