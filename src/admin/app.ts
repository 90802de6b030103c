import { type Context, Hono } from 'hono';
import type { RateLimitHandle } from '../http/middleware';
import { UsageUnavailable } from '../operations/analytics-sql';
import { InvalidInput } from '../operations/invalid-input';
import { Operator } from '../operations/operator';
import { usageCsv } from '../operations/usage';
import { requireBearer } from './auth';
import { jsonBody } from './body';
import { openApiDocument } from './openapi';

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
}

/**
 * The admin API: overrides, identity records, allow/block lists, and keys
 * (inspect, reset, lift bans), behind a bearer secret compared in constant
 * time. A JSON face over the operator operations (`Operator`), which
 * validate and write; bad input is a 400 naming the field.
 *
 * @example
 * const limiter = rateLimit({ policy });
 * app.route('/_ratelimit', adminApi({ limiter }));
 * app.use('*', limiter);
 */
export function adminApi(options: AdminOptions) {
  const { limiter, binding = 'RATE_LIMITER', kvBinding = 'RATE_LIMIT_CONFIG', tokenVar = 'ADMIN_TOKEN', now = Date.now } = options;
  const { compiled, metrics } = limiter.handle;
  const policy = compiled.policy;
  const operator = new Operator({ handle: limiter.handle, binding, kvBinding, now });
  const app = new Hono<{ Bindings: Record<string, unknown> }>();
  const envOf = (c: Context) => c.env as Record<string, unknown>;

  app.onError((error, c) => {
    if (error instanceof InvalidInput) return c.json({ error: error.message, field: error.field }, error.status);
    console.error(JSON.stringify({ event: 'admin_error', error: String(error) }));
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not found' }, 404));

  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.use(
    '*',
    requireBearer((env) => env[tokenVar] as string | undefined),
  );

  app.get('/policy', (c) =>
    c.json({
      name: policy.name,
      rules: compiled.rules.map((r) => ({
        name: r.name,
        match: r.rule.match,
        key: r.keySignature,
        limits: r.limits.map((l) => ({
          id: l.id,
          name: l.name,
          ...l.config,
          ...(l.countWhen ? { countWhen: r.rule.limits.find((x) => x.name === l.name)?.countWhen ?? r.rule.backoff?.countWhen } : {}),
        })),
        shadow: r.rule.shadow,
        countRefused: r.rule.countRefused,
        onError: r.onError,
        ...(r.rule.ban ? { ban: r.rule.ban } : {}),
      })),
    }),
  );

  app.get('/metrics', (c) => c.json(metrics.snapshot()));

  // ---- overrides and lists -------------------------------------------------------------

  const liveOf = async (c: Context) => {
    const snapshot = await operator.snapshot(envOf(c));
    if (!snapshot) throw new InvalidInput(400, '(config)', `no KV binding "${kvBinding}": live configuration is unavailable`);
    return snapshot;
  };

  app.get('/overrides', async (c) => {
    const snapshot = await liveOf(c);
    return c.json({
      overrides: snapshot.overrides.map(({ key, rule, kind, value, value_ }) => ({ key, rule, kind, value, ...value_ })),
      malformed: snapshot.malformed.filter((m) => m.key.startsWith('override:')),
    });
  });

  const overrideTarget = (c: Context) => operator.overrideTarget(c.req.param('rule')!, c.req.param('kind')!, c.req.param('value')!);

  app.put('/overrides/:rule/:kind/:value', async (c) => {
    const target = overrideTarget(c);
    const { key, value } = await operator.putOverride(envOf(c), target, await jsonBody(c));
    return c.json({ key, ...value });
  });

  app.delete('/overrides/:rule/:kind/:value', async (c) => c.json({ deleted: await operator.deleteOverride(envOf(c), overrideTarget(c)) }));

  app.get('/lists', async (c) => {
    const snapshot = await liveOf(c);
    return c.json({
      entries: snapshot.lists.map(({ key, list, kind, value, value_ }) => ({ key, list, kind, value, ...value_ })),
      static: { allow: policy.allow ?? null, block: policy.block ?? null },
      malformed: snapshot.malformed.filter((m) => m.key.startsWith('list:')),
    });
  });

  const listTarget = (c: Context) => operator.listTarget(c.req.param('list')!, c.req.param('kind')!, c.req.param('value')!);

  app.put('/lists/:list/:kind/:value{.+}', async (c) => {
    const target = listTarget(c);
    const raw = c.req.header('Content-Length') === '0' ? {} : await jsonBody(c);
    const { key, value } = await operator.putListEntry(envOf(c), target, raw);
    return c.json({ key, ...value });
  });

  app.delete('/lists/:list/:kind/:value{.+}', async (c) => c.json({ deleted: await operator.deleteListEntry(envOf(c), listTarget(c)) }));

  // ---- identity records ----------------------------------------------------------------

  app.put('/identities', async (c) => c.json(await operator.putIdentity(envOf(c), await jsonBody(c))));

  app.get('/identities/:hash', async (c) => {
    const record = await operator.identity(envOf(c), c.req.param('hash'));
    return record ? c.json(record) : c.json({ error: 'no identity record' }, 404);
  });

  app.delete('/identities/:hash', async (c) => c.json({ deleted: await operator.deleteIdentity(envOf(c), c.req.param('hash')) }));

  // ---- keys ----------------------------------------------------------------------------

  app.get('/usage', async (c) => {
    try {
      const { query, days } = await operator.usage(envOf(c), c.req.query());
      if (query.format === 'csv')
        return c.body(usageCsv(days), 200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `attachment; filename="usage-${query.from}-${query.to}.csv"`,
        });
      return c.json({ ...query, days });
    } catch (error) {
      if (error instanceof UsageUnavailable) return c.json({ error: error.message, sql: error.sql }, error.status);
      throw error;
    }
  });

  app.get('/decisions/top-refused', async (c) => {
    try {
      const { query, keys } = await operator.topRefused(envOf(c), c.req.query());
      return c.json({ ...query, keys });
    } catch (error) {
      if (error instanceof UsageUnavailable) return c.json({ error: error.message, sql: error.sql }, error.status);
      throw error;
    }
  });

  app.get('/keys/:rule', async (c) => c.json(await operator.inspectKey(envOf(c), c.req.param('rule'), c.req.query())));

  app.delete('/keys/:rule', async (c) => c.json({ reset: await operator.resetKey(envOf(c), c.req.param('rule'), c.req.query()) }));

  app.delete('/keys/:rule/ban', async (c) => {
    const { lifted, unblocked } = await operator.liftBan(envOf(c), c.req.param('rule'), c.req.query());
    return c.json({ lifted, ...(unblocked ? { unblocked } : {}) });
  });

  return app;
}
