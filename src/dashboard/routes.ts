import type { Context, Hono } from 'hono';
import type { RateLimiter } from '../durable-object/rate-limiter';
import type { RateLimitHandle } from '../http/middleware';
import { issuesOf, LIST_KINDS, LIST_NAMES, listKey, listValueError, overrideKey, parseOverrideKey, parseOverrideValue, pastExpiry, type ListKind, type ListName } from '../overrides/entries';
import { invalidateLive, LiveConfig } from '../overrides/live-config';
import { liftBan } from '../admin/ban';
import { BadRequest } from '../admin/body';
import { keyValueOf, objectName } from '../admin/key-address';
import { sameSecret } from '../admin/auth';
import { dashboardPage, loginPage, type KeyLookup } from './page';
import { hasSession, sameOrigin, startSession } from './session';

export interface DashboardContext {
  readonly handle: RateLimitHandle;
  readonly binding: string;
  readonly kvBinding: string;
  readonly tokenVar: string;
  readonly now: () => number;
  /** Where the admin app is mounted, unless the worker says per request (`ADMIN_MOUNT`). */
  readonly basePath: string;
}

type Env = { Bindings: Record<string, unknown> };


/**
 * The dashboard page, server-rendered, behind the admin secret: a sign-in
 * form sets an HttpOnly, Secure, SameSite=Strict session cookie (an HMAC of
 * the secret, never the secret); every form post must come from the page's
 * own origin.
 */
export function registerDashboard(app: Hono<Env>, ctx: DashboardContext): void {
  const { compiled, metrics } = ctx.handle;
  const mountOf = (c: Context) => String((c.env as Record<string, unknown>).ADMIN_MOUNT ?? ctx.basePath);
  const secretOf = (c: Context) => (c.env as Record<string, unknown>)[ctx.tokenVar] as string | undefined;
  const base = (c: Context) => `${mountOf(c)}/dashboard`;
  const kvOf = (c: Context) => (c.env as Record<string, unknown>)[ctx.kvBinding] as KVNamespace | undefined;

  const render = async (c: Context, notice?: string, lookup?: KeyLookup) => {
    const kv = kvOf(c);
    const snapshot = kv ? await new LiveConfig().load(kv, ctx.now()) : undefined;
    const editKey = c.req.method === 'GET' ? c.req.query('edit') : undefined;
    const editing = editKey ? snapshot?.overrides.find((o) => o.key === editKey) : undefined;
    const shown = notice ?? (editKey && !editing ? `Error: no override ${editKey}` : undefined);
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
        ...(lookup ? { lookup } : {}),
        ...(editing ? { editing } : {}),
        ...(shown ? { notice: shown } : {}),
      }),
    );
  };

  app.post('/dashboard/login', async (c) => {
    const secret = secretOf(c);
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token : '';
    if (!secret || !sameOrigin(c) || !(await sameSecret(token, secret))) return c.html(loginPage(`${base(c)}/login`, true), 401);
    await startSession(c, secret, mountOf(c) || '/');
    return c.redirect(base(c), 303);
  });

  /** The session gate: pages show the sign-in form; posts also need the page's own origin. */
  app.use('/dashboard/*', async (c, next) => {
    if (c.req.path === '/dashboard/login') return next();
    if (!(await hasSession(c, secretOf(c)))) return c.html(loginPage(`${base(c)}/login`, false), 401);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !sameOrigin(c)) return c.text('cross-origin form posts are refused', 403);
    return next();
  });
  app.get('/dashboard', async (c) => {
    if (!(await hasSession(c, secretOf(c)))) return c.html(loginPage(`${base(c)}/login`, false), 401);
    const { rule, by, value } = c.req.query();
    if (!rule || !by || !value) return render(c);
    const lookup: KeyLookup = { rule, by, value };
    try {
      const compiledRule = compiled.rules.find((r) => r.name === rule);
      if (!compiledRule) throw new BadRequest(400, 'rule', `no rule "${rule}"`);
      const key = await keyValueOf(compiledRule, compiled.policy, { [by]: value });
      const namespace = (c.env as Record<string, unknown>)[ctx.binding] as DurableObjectNamespace<RateLimiter>;
      const at = ctx.now();
      const snapshot = await namespace.getByName(objectName(compiledRule, key)).inspect(at);
      return render(c, undefined, {
        ...lookup,
        result: {
          key,
          limits: snapshot.limits.filter((l) => l.id.startsWith(`${rule}/`)).map((l) => ({ id: l.id, limit: l.decision.limit, used: l.decision.used, remaining: l.decision.remaining, resetAt: new Date(l.decision.resetAt).toISOString() })),
          bans: snapshot.bans.filter((b) => b.rule === rule).map((b) => ({ rule: b.rule, violations: b.violations, bannedUntil: b.bannedUntil > at ? new Date(b.bannedUntil).toISOString() : null })),
        },
      });
    } catch (error) {
      return render(c, undefined, { ...lookup, error: error instanceof BadRequest ? error.message : String(error) });
    }
  });

  app.post('/dashboard/overrides', async (c) => {
    const kv = kvOf(c);
    const form = await c.req.parseBody();
    const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string).trim() : '');
    const target = parseOverrideKey(overrideKey({ rule: field('rule'), kind: field('kind') as 'key', value: field('value') }));
    if ('error' in target) return render(c, `Error: ${target.error}`);
    if (target.rule !== '*' && !compiled.rules.some((r) => r.name === target.rule)) return render(c, `Error: no rule "${target.rule}"`);
    const expires = formExpires(field('expires'));
    if (expires instanceof Error) return render(c, `Error: ${expires.message}`);
    const raw = {
      ...(field('exempt') === 'true' ? { exempt: true } : { limits: [{ limit: Number(field('limit')), window: field('window') }] }),
      ...(expires ? { expires } : {}),
      ...(field('reason') ? { reason: field('reason') } : {}),
    };
    const parsed = parseOverrideValue(raw);
    if (!parsed.success) return render(c, `Error: ${issuesOf(parsed.error).join('; ')}`);
    const past = pastExpiry(parsed.data, ctx.now());
    if (past) return render(c, `Error: ${past}`);
    if (!kv) return render(c, 'Error: no KV namespace is bound');
    const key = overrideKey(target);
    await kv.put(key, JSON.stringify(parsed.data));
    invalidateLive(ctx.kvBinding);
    return render(c, `Saved ${key}.`);
  });

  app.post('/dashboard/overrides/delete', async (c) => {
    const key = String((await c.req.parseBody()).key ?? '');
    if (!key.startsWith('override:')) return render(c, 'Error: not an override');
    await kvOf(c)?.delete(key);
    invalidateLive(ctx.kvBinding);
    return render(c, `Deleted ${key}.`);
  });

  app.post('/dashboard/lists', async (c) => {
    const form = await c.req.parseBody();
    const [list, kind, value, reason, expiresText] = ['list', 'kind', 'value', 'reason', 'expires'].map((n) => (typeof form[n] === 'string' ? (form[n] as string).trim() : ''));
    if (!(LIST_NAMES as readonly string[]).includes(list!) || !(LIST_KINDS as readonly string[]).includes(kind!)) return render(c, 'Error: choose a list and a kind');
    const error = listValueError(kind as ListKind, value!);
    if (error) return render(c, `Error: ${error}`);
    const expires = formExpires(expiresText!);
    if (expires instanceof Error) return render(c, `Error: ${expires.message}`);
    const past = pastExpiry({ expires }, ctx.now());
    if (past) return render(c, `Error: ${past}`);
    const kv = kvOf(c);
    if (!kv) return render(c, 'Error: no KV namespace is bound');
    const key = listKey({ list: list as ListName, kind: kind as ListKind, value: value! });
    await kv.put(key, JSON.stringify({ ...(reason ? { reason } : {}), ...(expires ? { expires } : {}) }));
    invalidateLive(ctx.kvBinding);
    return render(c, `Saved ${key}.`);
  });

  app.post('/dashboard/bans/lift', async (c) => {
    const form = await c.req.parseBody();
    const [rule, by, value] = ['rule', 'by', 'value'].map((n) => (typeof form[n] === 'string' ? (form[n] as string).trim() : ''));
    const compiledRule = compiled.rules.find((r) => r.name === rule);
    if (!compiledRule) return render(c, `Error: no rule "${rule}"`);
    try {
      const key = await keyValueOf(compiledRule, compiled.policy, { [by!]: value });
      const namespace = (c.env as Record<string, unknown>)[ctx.binding] as DurableObjectNamespace<RateLimiter>;
      const { lifted, unblocked } = await liftBan(namespace.getByName(objectName(compiledRule, key)), compiledRule, key, kvOf(c), ctx.kvBinding);
      ctx.handle.denyCache.clear();
      return render(c, `Lifted ${lifted} ban${lifted === 1 ? '' : 's'} of ${rule} on ${key}${unblocked ? `, and removed ${unblocked}` : ''}.`);
    } catch (error) {
      return render(c, `Error: ${error instanceof BadRequest ? error.message : String(error)}`);
    }
  });

  app.post('/dashboard/lists/delete', async (c) => {
    const key = String((await c.req.parseBody()).key ?? '');
    if (!key.startsWith('list:')) return render(c, 'Error: not a list entry');
    await kvOf(c)?.delete(key);
    invalidateLive(ctx.kvBinding);
    return render(c, `Removed ${key}.`);
  });
}

/** A form's `datetime-local` expiry (UTC) as ISO 8601, nothing when empty, or an error naming the field. */
function formExpires(text: string): string | undefined | Error {
  if (!text) return undefined;
  const at = Date.parse(`${text}Z`);
  return Number.isNaN(at) ? new Error(`expires: "${text}" is not a date and time such as 2026-12-31T23:00`) : new Date(at).toISOString();
}
