import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { RateLimiter } from '../durable-object/rate-limiter';
import { identityRecordSchema, identityRow } from '../identity/record';
import { forgetIdentity } from '../identity/resolve';
import type { RateLimitHandle } from '../http/middleware';
import {
  issuesOf,
  LIST_KINDS,
  LIST_NAMES,
  listKey,
  listValueError,
  listValueSchema,
  overrideKey,
  parseOverrideValue,
  pastExpiry,
  TARGET_KINDS,
  type ListKind,
  type ListName,
  type TargetKind,
} from '../overrides/entries';
import { invalidateLive, LiveConfig } from '../overrides/live-config';
import { findOverride } from '../overrides/lookup';
import { sha256Hex } from '../request/credentials';
import { requireBearer } from './auth';
import { BadRequest, jsonBody } from './body';
import { liftBan } from './ban';
import { keyValueOf, objectName } from './key-address';
import { openApiDocument } from './openapi';
import { registerDashboard } from '../dashboard/routes';

export interface AdminOptions {
  /** The limiter whose policy, counters and objects the API works on. */
  readonly limiter: { readonly handle: RateLimitHandle };
  /** Durable Object binding of `RateLimiter` (default `RATE_LIMITER`). */
  readonly binding?: string;
  /** KV binding of live configuration (default `RATE_LIMIT_CONFIG`). */
  readonly kvBinding?: string;
  /** Variable holding the bearer secret (default `ADMIN_TOKEN`); unset means the API is off. */
  readonly tokenVar?: string;
  /** The clock. */
  readonly now?: () => number;
  /** The path the app is mounted under (e.g. `/_ratelimit` with `app.route('/_ratelimit', adminApp(…))`), for the dashboard's links and cookie. */
  readonly basePath?: string;
}

const identityInputSchema = z
  .strictObject({
    credential: z.string().min(1).max(4096).optional(),
    credentialHash: z.string().regex(/^[0-9a-f]{64}$/, 'credentialHash is a SHA-256 hex digest').optional(),
    subject: identityRecordSchema.shape.subject,
    org: identityRecordSchema.shape.org,
    tier: identityRecordSchema.shape.tier,
  })
  .refine((v) => (v.credential === undefined) !== (v.credentialHash === undefined), { message: 'give exactly one of credential and credentialHash', path: ['credential'] });

/**
 * The admin API: overrides, identity records, allow/block lists, and keys
 * (inspect, reset, lift bans), behind a bearer secret compared in constant
 * time. Every write is one KV or object operation, so nothing is half
 * written; bad input is a 400 naming the field.
 *
 * @example
 * const limiter = rateLimit({ policy });
 * app.route('/_ratelimit', adminApp({ limiter, basePath: '/_ratelimit' }));
 * app.use('*', limiter);
 */
export function adminApp(options: AdminOptions) {
  const { limiter, binding = 'RATE_LIMITER', kvBinding = 'RATE_LIMIT_CONFIG', tokenVar = 'ADMIN_TOKEN', now = Date.now } = options;
  const { compiled, metrics } = limiter.handle;
  const policy = compiled.policy;
  const app = new Hono<{ Bindings: Record<string, unknown> }>();

  const kvOf = (c: Context): KVNamespace => {
    const kv = (c.env as Record<string, unknown>)[kvBinding] as KVNamespace | undefined;
    if (!kv) throw new BadRequest(400, '(config)', `no KV binding "${kvBinding}": live configuration is unavailable`);
    return kv;
  };
  const ruleOf = (name: string) => {
    const rule = compiled.rules.find((r) => r.name === name);
    if (!rule) throw new BadRequest(400, 'rule', `no rule "${name}" in policy "${policy.name}" (rules: ${compiled.rules.map((r) => r.name).join(', ')})`);
    return rule;
  };
  const stubOf = (c: Context, name: string) => ((c.env as Record<string, unknown>)[binding] as DurableObjectNamespace<RateLimiter>).getByName(name);
  /** Writes or deletes one live-configuration entry; the isolate's cached snapshot is dropped so it applies at once. */
  /** KV refuses keys over 512 bytes: a value that long is the caller's fault, named as such. */
  const checkKeySize = (key: string) => {
    if (new TextEncoder().encode(key).length > 512) throw new BadRequest(400, 'value', 'the entry\'s KV key would be over 512 bytes: use a shorter value');
  };
  const store = async (c: Context, key: string, value: unknown) => {
    checkKeySize(key);
    await kvOf(c).put(key, JSON.stringify(value));
    invalidateLive(kvBinding);
    return c.json({ key, ...(value as object) });
  };
  const remove = async (c: Context, key: string) => {
    checkKeySize(key);
    await kvOf(c).delete(key);
    invalidateLive(kvBinding);
    return c.json({ deleted: key });
  };
  /** An entry written already expired would never apply: a 400 naming `expires`. */
  const notExpired = (value: { expires?: string | undefined }) => {
    const error = pastExpiry(value, now());
    if (error) throw new BadRequest(400, 'expires', error);
  };
  /** A 400 naming the first field at fault. */
  const invalid = (c: Context, error: z.ZodError) => c.json({ error: issuesOf(error).join('; '), field: error.issues[0]!.path.join('.') || '(body)' }, 400);

  app.onError((error, c) => {
    if (error instanceof BadRequest) return c.json({ error: error.message, field: error.field }, error.status);
    console.error(JSON.stringify({ event: 'admin_error', error: String(error) }));
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not found' }, 404));

  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  // The dashboard signs in with a session cookie of its own; everything else takes the bearer token.
  registerDashboard(app, { handle: limiter.handle, binding, kvBinding, tokenVar, now, basePath: options.basePath ?? '' });
  app.use('*', requireBearer((env) => env[tokenVar] as string | undefined));

  app.get('/policy', (c) =>
    c.json({
      name: policy.name,
      rules: compiled.rules.map((r) => ({
        name: r.name,
        match: r.rule.match,
        key: r.keySignature,
        limits: r.limits.map((l) => ({ id: l.id, name: l.name, ...l.config, ...(l.countWhen ? { countWhen: r.rule.limits.find((x) => x.name === l.name)?.countWhen ?? r.rule.backoff?.countWhen } : {}) })),
        shadow: r.rule.shadow,
        countRefused: r.rule.countRefused,
        onError: r.onError,
        ...(r.rule.ban ? { ban: r.rule.ban } : {}),
      })),
    }),
  );

  app.get('/metrics', (c) => c.json(metrics.snapshot()));

  // ---- overrides and lists -------------------------------------------------------------

  app.get('/overrides', async (c) => {
    const snapshot = await new LiveConfig().load(kvOf(c), now());
    return c.json({ overrides: snapshot.overrides.map(({ key, rule, kind, value, value_ }) => ({ key, rule, kind, value, ...value_ })), malformed: snapshot.malformed.filter((m) => m.key.startsWith('override:')) });
  });

  const target = (c: Context) => {
    const rule = c.req.param('rule')!;
    if (rule !== '*') ruleOf(rule);
    const kind = c.req.param('kind')!;
    if (!(TARGET_KINDS as readonly string[]).includes(kind)) throw new BadRequest(400, 'kind', 'kind is key, subject or org');
    const value = c.req.param('value')!;
    if (value.length === 0 || value.length > 400) throw new BadRequest(400, 'value', 'value is 1 to 400 characters');
    return { rule, kind: kind as TargetKind, value };
  };

  app.put('/overrides/:rule/:kind/:value', async (c) => {
    const t = target(c);
    const parsed = parseOverrideValue(await jsonBody(c));
    if (!parsed.success) return invalid(c, parsed.error);
    notExpired(parsed.data);
    return store(c, overrideKey(t), parsed.data);
  });

  app.delete('/overrides/:rule/:kind/:value', (c) => remove(c, overrideKey(target(c))));

  app.get('/lists', async (c) => {
    const snapshot = await new LiveConfig().load(kvOf(c), now());
    return c.json({
      entries: snapshot.lists.map(({ key, list, kind, value, value_ }) => ({ key, list, kind, value, ...value_ })),
      static: { allow: policy.allow ?? null, block: policy.block ?? null },
      malformed: snapshot.malformed.filter((m) => m.key.startsWith('list:')),
    });
  });

  const listTarget = (c: Context) => {
    const list = c.req.param('list')!;
    if (!(LIST_NAMES as readonly string[]).includes(list)) throw new BadRequest(400, 'list', 'list is allow or block');
    const kind = c.req.param('kind')!;
    if (!(LIST_KINDS as readonly string[]).includes(kind)) throw new BadRequest(400, 'kind', 'kind is ip, country, asn or credential');
    const value = c.req.param('value')!;
    const error = listValueError(kind as ListKind, value);
    if (error) throw new BadRequest(400, 'value', error);
    return { list: list as ListName, kind: kind as ListKind, value };
  };

  app.put('/lists/:list/:kind/:value{.+}', async (c) => {
    const t = listTarget(c);
    const raw = c.req.header('Content-Length') === '0' ? {} : await jsonBody(c);
    const parsed = listValueSchema.safeParse(raw);
    if (!parsed.success) return invalid(c, parsed.error);
    notExpired(parsed.data);
    return store(c, listKey(t), parsed.data);
  });

  app.delete('/lists/:list/:kind/:value{.+}', (c) => remove(c, listKey(listTarget(c))));

  // ---- identity records ----------------------------------------------------------------

  app.put('/identities', async (c) => {
    const parsed = identityInputSchema.safeParse(await jsonBody(c));
    if (!parsed.success) return invalid(c, parsed.error);
    const { credential, credentialHash, ...record } = parsed.data;
    const hash = credentialHash ?? (await sha256Hex(credential!));
    await kvOf(c).put(identityRow(hash), JSON.stringify(record));
    forgetIdentity(hash);
    return c.json({ credentialHash: hash, ...record });
  });

  const hashParam = (c: Context) => {
    const hash = c.req.param('hash')!;
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new BadRequest(400, 'hash', 'the credential is named by its SHA-256 hex digest');
    return hash;
  };

  app.get('/identities/:hash', async (c) => {
    const hash = hashParam(c);
    const text = await kvOf(c).get(identityRow(hash), 'text');
    if (text === null) return c.json({ error: 'no identity record' }, 404);
    // A record written by hand may be malformed: the limiter ignores it (the default tier applies), and says why here.
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return c.json({ credentialHash: hash, malformed: ['(value): not JSON'] });
    }
    const parsed = identityRecordSchema.safeParse(json);
    return parsed.success ? c.json({ credentialHash: hash, ...parsed.data }) : c.json({ credentialHash: hash, malformed: issuesOf(parsed.error) });
  });

  app.delete('/identities/:hash', async (c) => {
    const hash = hashParam(c);
    await kvOf(c).delete(identityRow(hash));
    forgetIdentity(hash);
    return c.json({ deleted: identityRow(hash) });
  });

  // ---- keys ----------------------------------------------------------------------------

  const keyOf = async (c: Context) => {
    const rule = ruleOf(c.req.param('rule')!);
    const value = await keyValueOf(rule, policy, c.req.query());
    return { rule, value, object: objectName(rule, value) };
  };

  app.get('/keys/:rule', async (c) => {
    const { rule, value, object } = await keyOf(c);
    const at = now();
    const snapshot = await stubOf(c, object).inspect(at);
    const kv = (c.env as Record<string, unknown>)[kvBinding] as KVNamespace | undefined;
    const live = kv ? await new LiveConfig().load(kv, at) : undefined;
    const identityQuery = { subject: c.req.query('subject'), org: c.req.query('org') };
    const override = live && findOverride(live, rule.name, value, { tier: '', source: 'default', ...(identityQuery.subject ? { subject: identityQuery.subject } : {}), ...(identityQuery.org ? { org: identityQuery.org } : {}) }, at);
    return c.json({
      rule: rule.name,
      key: value,
      object,
      limits: snapshot.limits
        .filter((l) => l.id.startsWith(`${rule.name}/`))
        .map((l) => ({ id: l.id, algorithm: l.config.algorithm, limit: l.decision.limit, windowMs: l.config.windowMs, used: l.decision.used, remaining: l.decision.remaining, resetAt: new Date(l.decision.resetAt).toISOString() })),
      bans: snapshot.bans.filter((b) => b.rule === rule.name).map((b) => ({ ...b, bannedUntil: b.bannedUntil > at ? new Date(b.bannedUntil).toISOString() : null })),
      override: override ? { key: override.key, ...override.value_ } : null,
    });
  });

  app.delete('/keys/:rule', async (c) => {
    const { object } = await keyOf(c);
    await stubOf(c, object).reset();
    limiter.handle.denyCache.clear();
    return c.json({ reset: object });
  });

  app.delete('/keys/:rule/ban', async (c) => {
    const { rule, value, object } = await keyOf(c);
    const result = await liftBan(stubOf(c, object), rule, value, (c.env as Record<string, unknown>)[kvBinding] as KVNamespace | undefined, kvBinding);
    limiter.handle.denyCache.clear();
    return c.json(result);
  });

  return app;
}
