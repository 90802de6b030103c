import { type Context, Hono } from 'hono';
import type { RateLimitHandle } from '../http/middleware';
import { UsageUnavailable } from '../operations/analytics-sql';
import { readDecisions } from '../operations/decisions';
import { InvalidInput } from '../operations/invalid-input';
import { Operator } from '../operations/operator';
import { sameSecret } from '../operator-auth/secret';
import { deploymentPage } from './deployment-page';
import { type Flash, setFlash, takeFlash } from './flash';
import { dashboardPage, type FormState, type KeyLookup, loginPage } from './page';
import { endSession, hasSession, sameOrigin, startSession } from './session';
import { usagePage } from './usage-page';

export interface DashboardOptions {
  /** The limiter whose policy, counters and objects the dashboard shows and changes. */
  readonly limiter: { readonly handle: RateLimitHandle };
  /** Durable Object binding of `RateLimiter` (default `RATE_LIMITER`). */
  readonly binding?: string;
  /** KV binding of live configuration (default `RATE_LIMIT_CONFIG`). */
  readonly kvBinding?: string;
  /** Variable holding the admin secret (default `ADMIN_TOKEN`); unset means nobody can sign in. */
  readonly tokenVar?: string;
  /** The clock. */
  readonly now?: () => number;
  /** The path the app is mounted under (`/_ratelimit` with `app.route('/_ratelimit', dashboardApp(…))`), for its links and cookies; the worker may say per request (`ADMIN_MOUNT`). */
  readonly basePath?: string;
}

type Env = { Bindings: Record<string, unknown> };

const HOUR_MS = 3_600_000;
/** The spans the deployment page offers, in hours. */
const DEPLOYMENT_HOURS = [1, 6, 24, 72, 168];
const DEFAULT_HOURS = 24;
const instant = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/** Form fields as the forms label them, by the field an operation names. */
const OVERRIDE_FIELDS: Readonly<Record<string, { name: string; label: string }>> = {
  rule: { name: 'rule', label: 'Rule' },
  kind: { name: 'kind', label: 'Target' },
  value: { name: 'value', label: 'Value' },
  limits: { name: 'limit', label: 'Limit' },
  'limits.0.limit': { name: 'limit', label: 'Limit' },
  'limits.0.window': { name: 'window', label: 'Window' },
  exempt: { name: 'exempt', label: 'Exempt' },
  expires: { name: 'expires', label: 'Expires (UTC)' },
  reason: { name: 'reason', label: 'Reason' },
};
const LIST_FIELDS: Readonly<Record<string, { name: string; label: string }>> = {
  list: { name: 'list', label: 'List' },
  kind: { name: 'kind', label: 'Kind' },
  value: { name: 'value', label: 'Value' },
  expires: { name: 'expires', label: 'Expires (UTC)' },
  reason: { name: 'reason', label: 'Reason' },
};

const IDENTITY_FIELDS: Readonly<Record<string, { name: string; label: string }>> = {
  credential: { name: 'credential', label: 'Credential' },
  credentialHash: { name: 'credential', label: 'Credential' },
  subject: { name: 'subject', label: 'Subject' },
  org: { name: 'org', label: 'Org' },
  tier: { name: 'tier', label: 'Tier' },
};

/**
 * The dashboard, server-rendered, behind the admin secret: a face over the
 * operator operations (`Operator`). Signing in sets a session cookie (issue
 * time, random id, HMAC keyed by the secret; eight hours); every form post
 * must come from the page's own origin. A post that succeeds redirects (303)
 * to the page with a one-time message; one that is refused answers 400 with
 * the form as typed and the error beside the field.
 *
 * @example
 * app.route('/_ratelimit', dashboardApp({ limiter, basePath: '/_ratelimit' })); // the page at /_ratelimit/dashboard
 */
export function dashboardApp(options: DashboardOptions) {
  const { limiter, binding = 'RATE_LIMITER', kvBinding = 'RATE_LIMIT_CONFIG', tokenVar = 'ADMIN_TOKEN', now = Date.now } = options;
  const operator = new Operator({ handle: limiter.handle, binding, kvBinding, now });
  const { compiled, metrics } = limiter.handle;
  const app = new Hono<Env>();
  const envOf = (c: Context) => c.env as Record<string, unknown>;
  const mountOf = (c: Context) => String(envOf(c).ADMIN_MOUNT ?? options.basePath ?? '');
  const secretOf = (c: Context) => envOf(c)[tokenVar] as string | undefined;
  const base = (c: Context) => `${mountOf(c)}/dashboard`;
  const kvOf = (c: Context) => envOf(c)[kvBinding] as KVNamespace | undefined;

  const render = async (c: Context, extra: { flash?: Flash; lookup?: KeyLookup; form?: FormState } = {}, status: 200 | 400 = 200) => {
    const [snapshot, notifyFailure] = await Promise.all([operator.snapshot(envOf(c)), operator.lastNotificationFailure(envOf(c))]);
    const editKey = c.req.method === 'GET' ? c.req.query('edit') : extra.form?.values.edit || undefined;
    const editing = editKey ? snapshot?.overrides.find((o) => o.key === editKey) : undefined;
    const flash = extra.flash ?? (editKey && !editing ? { kind: 'bad' as const, text: `No override ${editKey}.` } : undefined);
    const { counts, recentRefusals } = metrics.snapshot();
    return c.html(
      dashboardPage({
        base: base(c),
        compiled,
        overrides: snapshot?.overrides ?? [],
        lists: snapshot?.lists ?? [],
        malformed: snapshot?.malformed ?? [],
        counts,
        recent: recentRefusals,
        ...(extra.lookup ? { lookup: extra.lookup } : {}),
        ...(editing ? { editing } : {}),
        ...(extra.form ? { form: extra.form } : {}),
        ...(flash ? { flash } : {}),
        ...(notifyFailure ? { notifyFailure } : {}),
      }),
      status,
    );
  };

  /** After a post: back to the page (303), with a message for it. */
  const done = (c: Context, flash: Flash) => {
    setFlash(c, base(c), flash);
    return c.redirect(base(c), 303);
  };

  /** A refused post: the page again, 400, the form as typed with the error beside its field (or at the top, for a form without one). */
  const refused = (
    c: Context,
    error: unknown,
    form?: { id: FormState['id']; values: Record<string, string>; fields: typeof OVERRIDE_FIELDS },
  ) => {
    if (!(error instanceof InvalidInput)) throw error;
    if (!form) return render(c, { flash: { kind: 'bad', text: error.message } }, 400);
    const field = form.fields[error.field];
    // An error about the whole form (no field of it at fault) is shown beside its button.
    const errors = field ? { [field.name]: `${field.label}: ${error.reason}` } : { '(form)': error.reason };
    return render(c, { form: { id: form.id, values: form.values, errors } }, 400);
  };

  const formOf = async (c: Context): Promise<Record<string, string>> => {
    const body = await c.req.parseBody();
    return Object.fromEntries(
      Object.entries(body)
        .filter((e): e is [string, string] => typeof e[1] === 'string')
        .map(([k, v]) => [k, v.trim()]),
    );
  };

  app.post('/dashboard/login', async (c) => {
    const secret = secretOf(c);
    const form = await formOf(c);
    if (!secret || !sameOrigin(c) || !(await sameSecret(form.token ?? '', secret))) return c.html(loginPage(`${base(c)}/login`, true), 401);
    await startSession(c, secret, base(c), now());
    return c.redirect(base(c), 303);
  });

  /** The session gate: pages show the sign-in form; posts also need the page's own origin. */
  app.use('/dashboard/*', async (c, next) => {
    if (c.req.path === '/dashboard/login') return next();
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !sameOrigin(c)) return c.text('cross-origin form posts are refused', 403);
    // Signing out works with any cookie, even an expired one: it is cleared either way.
    if (c.req.path === '/dashboard/logout') return next();
    if (!(await hasSession(c, secretOf(c), now(), kvOf(c)))) return c.html(loginPage(`${base(c)}/login`, false), 401);
    return next();
  });
  app.get('/dashboard', async (c) => {
    if (!(await hasSession(c, secretOf(c), now(), kvOf(c)))) return c.html(loginPage(`${base(c)}/login`, false), 401);
    const flash = takeFlash(c, base(c));
    const { rule, by, value } = c.req.query();
    if (!rule || !by || !value) return render(c, flash ? { flash } : {});
    const lookup: KeyLookup = { rule, by, value };
    try {
      const inspected = await operator.inspectKey(envOf(c), rule, { [by]: value });
      return render(c, { lookup: { ...lookup, result: { key: inspected.key, limits: inspected.limits, bans: inspected.bans } } });
    } catch (error) {
      if (!(error instanceof InvalidInput)) throw error;
      return render(c, { lookup: { ...lookup, error: error.message } });
    }
  });

  app.get('/dashboard/usage', async (c) => {
    const values = c.req.query();
    const data = { base: base(c), policy: operator.compiled.policy.name, values };
    if (!values.value) return c.html(usagePage(data));
    try {
      const { query, days } = await operator.usage(envOf(c), {
        [values.by === 'org' ? 'org' : 'subject']: values.value,
        from: values.from || undefined,
        to: values.to || undefined,
      });
      return c.html(usagePage({ ...data, result: { from: query.from, to: query.to, days } }));
    } catch (error) {
      if (error instanceof InvalidInput) return c.html(usagePage({ ...data, error: error.message }), 400);
      if (error instanceof UsageUnavailable) return c.html(usagePage({ ...data, error: error.message, sql: error.sql }), error.status);
      throw error;
    }
  });

  app.get('/dashboard/deployment', async (c) => {
    const at = now();
    const hoursText = c.req.query('hours') ?? String(DEFAULT_HOURS);
    const data = { base: base(c), policy: operator.compiled.policy.name, rules: operator.compiled.rules.map((r) => r.name) };
    const hours = /^\d{1,3}$/.test(hoursText) ? Number(hoursText) : Number.NaN;
    if (!DEPLOYMENT_HOURS.includes(hours)) {
      const start = Math.floor(at / HOUR_MS) * HOUR_MS - (DEFAULT_HOURS - 1) * HOUR_MS;
      return c.html(
        deploymentPage({ ...data, start, hours: DEFAULT_HOURS, error: `hours: choose one of ${DEPLOYMENT_HOURS.join(', ')}` }),
        400,
      );
    }
    // Whole hours up to the end of the current one: the chart's points and the table's range are the same span.
    const start = Math.floor(at / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS;
    const end = start + hours * HOUR_MS;
    const [decisions, top] = await Promise.allSettled([
      readDecisions(envOf(c), at, hours),
      operator.topRefused(envOf(c), { from: instant(start), to: instant(end) }),
    ]);
    const failed = [decisions, top].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    for (const reason of failed) if (!(reason instanceof UsageUnavailable)) throw reason;
    const unavailable = failed as UsageUnavailable[];
    const page = deploymentPage({
      ...data,
      start,
      hours,
      ...(decisions.status === 'fulfilled'
        ? { decisions: decisions.value }
        : { error: (decisions.reason as UsageUnavailable).message, sql: (decisions.reason as UsageUnavailable).sql }),
      ...(top.status === 'fulfilled'
        ? { topRefused: top.value.keys }
        : { topRefusedError: (top.reason as UsageUnavailable).message, topRefusedSql: (top.reason as UsageUnavailable).sql }),
    });
    return c.html(page, unavailable.length > 0 ? (Math.max(...unavailable.map((u) => u.status)) as 501 | 502) : 200);
  });

  app.post('/dashboard/logout', async (c) => {
    await endSession(c, secretOf(c), base(c), now(), kvOf(c));
    return c.redirect(base(c), 303);
  });

  app.post('/dashboard/overrides', async (c) => {
    const values = await formOf(c);
    const field = (name: string) => values[name] ?? '';
    try {
      const target = operator.overrideTarget(field('rule'), field('kind'), field('value'));
      const expires = formExpires(field('expires'));
      if (field('exempt') !== 'true' && field('limit') === '')
        throw new InvalidInput(400, 'limits.0.limit', 'limits.0.limit: give a number, or tick Exempt', 'give a number, or tick Exempt');
      const raw = {
        ...(field('exempt') === 'true' ? { exempt: true } : { limits: [{ limit: Number(field('limit')), window: field('window') }] }),
        ...(expires ? { expires } : {}),
        ...(field('reason') ? { reason: field('reason') } : {}),
      };
      const { key } = await operator.putOverride(envOf(c), target, raw);
      return done(c, { kind: 'ok', text: `Saved ${key}.` });
    } catch (error) {
      return refused(c, error, { id: 'override-form', values, fields: OVERRIDE_FIELDS });
    }
  });

  app.post('/dashboard/overrides/delete', async (c) => {
    try {
      return done(c, { kind: 'ok', text: `Deleted ${await operator.deleteOverrideKey(envOf(c), (await formOf(c)).key ?? '')}.` });
    } catch (error) {
      return refused(c, error);
    }
  });

  app.post('/dashboard/lists', async (c) => {
    const values = await formOf(c);
    const field = (name: string) => values[name] ?? '';
    try {
      const target = operator.listTarget(field('list'), field('kind'), field('value'));
      const expires = formExpires(field('expires'));
      const { key } = await operator.putListEntry(envOf(c), target, {
        ...(field('reason') ? { reason: field('reason') } : {}),
        ...(expires ? { expires } : {}),
      });
      return done(c, { kind: 'ok', text: `Saved ${key}.` });
    } catch (error) {
      return refused(c, error, { id: 'list-form', values, fields: LIST_FIELDS });
    }
  });

  app.post('/dashboard/lists/delete', async (c) => {
    try {
      return done(c, { kind: 'ok', text: `Removed ${await operator.deleteListKey(envOf(c), (await formOf(c)).key ?? '')}.` });
    } catch (error) {
      return refused(c, error);
    }
  });

  app.post('/dashboard/identities', async (c) => {
    const values = await formOf(c);
    const { credential = '', subject = '', org = '', tier = '' } = values;
    // The credential is never sent back in the page, even when the form is refused.
    const kept = { subject, org, tier };
    try {
      const record = await operator.putIdentity(envOf(c), { credential, subject, ...(org ? { org } : {}), tier });
      return done(c, {
        kind: 'ok',
        text: `Saved the identity record of credential ${record.credentialHash.slice(0, 12)}… (subject ${record.subject}, tier ${record.tier}).`,
      });
    } catch (error) {
      return refused(c, error, { id: 'identity-form', values: kept, fields: IDENTITY_FIELDS });
    }
  });

  app.post('/dashboard/bans/lift', async (c) => {
    const { rule = '', by = '', value = '' } = await formOf(c);
    try {
      const { lifted, unblocked, key } = await operator.liftBan(envOf(c), rule, { [by]: value });
      return done(c, {
        kind: 'ok',
        text: `Lifted ${lifted} ban${lifted === 1 ? '' : 's'} of ${rule} on ${key}${unblocked ? `, and removed ${unblocked}` : ''}.`,
      });
    } catch (error) {
      return refused(c, error);
    }
  });

  return app;
}

/** A form's `datetime-local` expiry (UTC) as ISO 8601, nothing when empty. */
function formExpires(text: string): string | undefined {
  if (!text) return undefined;
  const at = Date.parse(`${text}Z`);
  if (Number.isNaN(at)) {
    const reason = `"${text}" is not a date and time such as 2026-12-31T23:00`;
    throw new InvalidInput(400, 'expires', `expires: ${reason}`, reason);
  }
  return new Date(at).toISOString();
}
