import { z } from 'zod';
import { anchorError, type CalendarPeriod, isTimeZone, NOMINAL_PERIOD_MS, PERIOD_UNITS } from '../algorithms/calendar-period';
import { LEASE_ALGORITHMS } from '../algorithms/lease';
import { formatDuration, parseDuration } from './duration';
import { pathPatternError } from './path-pattern';

const MAX_WINDOW_MS = 366 * 86_400_000;

/** A duration: milliseconds as a number, or text such as `30s`, `5m`, `25h`. Parsed to milliseconds. */
const DURATION_HINT = 'use a number of milliseconds or text such as "30s", "5m", "25h"';

export const durationSchema = z
  .union([z.number(), z.string()], {
    error: (issue) => (issue.input === undefined ? `required: ${DURATION_HINT}` : `invalid duration: ${DURATION_HINT}`),
  })
  .transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || !Number.isInteger(ms) || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)}: ${DURATION_HINT}` });
      return z.NEVER;
    }
    return ms;
  });

/** A window: 1 s to 366 days. */
const windowSchema = durationSchema.refine((ms) => ms >= 1000 && ms <= MAX_WINDOW_MS, {
  message: 'window must be between 1s and 366d',
});

/** A billing anchor: a date, a local date and time, or an instant (see `CalendarPeriod.anchor`). */
export const anchorSchema = z.string().superRefine((anchor, ctx) => {
  const error = anchorError(anchor);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});

/** An IANA time zone name that `Intl` knows, e.g. `Europe/Berlin`. */
export const timeZoneSchema = z
  .string()
  .refine(isTimeZone, { message: 'unknown time zone: use an IANA name such as "UTC" or "Europe/Berlin"' });

const statusClass = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]xx$/, 'status must be a code such as 201 or a class such as "2xx"'),
]);

/**
 * Which responses a limit counts. Limits without it count every admitted
 * request before the origin is asked; limits with it reserve before the origin
 * and keep the count only when the response status matches.
 */
export const countWhenSchema = z.strictObject({
  status: z.array(statusClass).min(1),
});

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'names use letters, digits, "_", "." and "-" (at most 64)');

export const algorithmSchema = z.enum(['fixed-window', 'sliding-window', 'gcra']);

/** What a limit counts by: a window algorithm, or `concurrency` (requests in flight). */
export const limitAlgorithmSchema = z.enum(['fixed-window', 'sliding-window', 'gcra', 'concurrency']);

/** The longest a concurrency slot may be held by default before it is given back without a release: 60 s. */
export const DEFAULT_SLOT_LEASE_MS = 60_000;

/** A slot lease: 1 s to 1 h. */
const slotLeaseSchema = durationSchema.refine((ms) => ms >= 1000 && ms <= 3_600_000, {
  message: 'slotLease must be between 1s and 1h',
});

/**
 * A calendar period: a unit, or `{ unit, anchor?, timeZone? }`. Without an
 * anchor, a limit takes the customer's billing anchor from their identity
 * record, or else starts periods at midnight on Mondays, the 1st, 1 January.
 */
export const periodSchema = z
  .union(
    [
      z.enum(PERIOD_UNITS),
      z.strictObject({ unit: z.enum(PERIOD_UNITS), anchor: anchorSchema.optional(), timeZone: timeZoneSchema.optional() }),
    ],
    {
      error: 'period is "day", "week", "month" or "year", or { unit, anchor?, timeZone? }',
    },
  )
  .transform(
    (p): CalendarPeriod =>
      typeof p === 'string'
        ? { unit: p }
        : {
            unit: p.unit,
            ...(p.anchor !== undefined ? { anchor: p.anchor } : {}),
            ...(p.timeZone !== undefined ? { timeZone: p.timeZone } : {}),
          },
  );

/**
 * One limit: `limit` units per `window`, counted by `algorithm`; or `limit`
 * units per calendar `period` (fixed-window only), e.g. a monthly quota that
 * resets on each customer's billing date; or, with `algorithm: "concurrency"`,
 * at most `limit` requests in flight, each slot held at most `slotLease`.
 */
export const limitSchema = z
  .strictObject({
    /** Shown in headers (`X-RateLimit-Window`, the IETF policy name). Defaults to the window, e.g. `30s`, the period's unit, e.g. `month`, or `concurrent`. */
    name: nameSchema.optional(),
    algorithm: limitAlgorithmSchema.default('fixed-window'),
    limit: z.number().int().min(0).max(1e12),
    window: windowSchema.optional(),
    /**
     * Concurrency only: the longest a request holds its slot. A slot is given
     * back when the response has been streamed, the client aborted or the
     * origin failed; one whose holder vanished (an isolate that died) comes
     * back when its lease ends. 1 s to 1 h, 60 s by default.
     */
    slotLease: slotLeaseSchema.optional(),
    /** A calendar period instead of a window (see `periodSchema`). */
    period: periodSchema.optional(),
    /** GCRA only: how many units may arrive at once (defaults to `limit`). */
    burst: z.number().int().min(1).max(1e12).optional(),
    countWhen: countWhenSchema.optional(),
    /**
     * Near-limit notifications: percentages of `limit` (e.g. `[80, 100]`).
     * The first request of a window or period to reach one emits one event
     * for the key (fixed-window limits only).
     */
    notify: z
      .array(z.number().int().min(1, 'thresholds are percentages from 1 to 100').max(100, 'thresholds are percentages from 1 to 100'))
      .min(1)
      .max(10)
      .refine((t) => new Set(t).size === t.length, 'a threshold is named twice')
      .optional(),
  })
  .refine((l) => l.burst === undefined || l.algorithm === 'gcra', { message: 'burst applies to the gcra algorithm only', path: ['burst'] })
  .refine((l) => l.limit > 0 || l.algorithm !== 'gcra', {
    message: 'a gcra limit of 0 has no rate: use a fixed-window limit of 0 to refuse every request',
    path: ['limit'],
  })
  .refine((l) => l.notify === undefined || l.algorithm === 'fixed-window', {
    message: 'notify thresholds apply to fixed-window limits (windows or calendar periods)',
    path: ['notify'],
  })
  .refine((l) => l.algorithm !== 'concurrency' || l.window === undefined || l.window === l.slotLease, {
    message: 'a concurrency limit counts requests in flight, not per window: give slotLease (how long a slot may be held), not window',
    path: ['window'],
  })
  .refine((l) => l.slotLease === undefined || l.algorithm === 'concurrency', {
    message: 'slotLease applies to concurrency limits only',
    path: ['slotLease'],
  })
  .refine((l) => l.countWhen === undefined || l.algorithm !== 'concurrency', {
    message: 'a slot is held until the response ends, whatever its status: countWhen does not apply to concurrency limits',
    path: ['countWhen'],
  })
  .refine((l) => l.algorithm === 'concurrency' || l.window !== undefined || l.period !== undefined, {
    message: `required: a window (${DURATION_HINT}) or a calendar period ("day", "week", "month", "year")`,
    path: ['window'],
  })
  // A parsed limit gives its period's nominal length as its window: parsing it again must accept it.
  .refine((l) => l.window === undefined || l.period === undefined || l.window === NOMINAL_PERIOD_MS[l.period.unit], {
    message: 'give a window or a period, not both',
    path: ['period'],
  })
  .refine((l) => l.period === undefined || l.algorithm === 'fixed-window', {
    message: 'calendar periods are counted by the fixed-window algorithm',
    path: ['algorithm'],
  })
  // A parsed concurrency limit gives its slot lease as its window, so parsing it again is accepted.
  .transform(({ window, period, ...rest }): typeof rest & { window: number; period?: CalendarPeriod } => {
    if (rest.algorithm === 'concurrency') {
      const slotLease = rest.slotLease ?? DEFAULT_SLOT_LEASE_MS;
      return { ...rest, name: rest.name ?? 'concurrent', slotLease, window: slotLease };
    }
    return period
      ? { ...rest, name: rest.name ?? period.unit, window: NOMINAL_PERIOD_MS[period.unit], period }
      : { ...rest, window: window! };
  });

/**
 * Exponential backoff layers in rack-attack's pattern: level `n` (1…levels)
 * admits `limit × n` requests per `period ^ n` seconds, so repeated pressure
 * meets ever longer windows.
 */
export const backoffSchema = z.strictObject({
  name: nameSchema.default('backoff'),
  algorithm: algorithmSchema.default('fixed-window'),
  limit: z.number().int().min(1).max(1e12),
  /** The level-1 period; must be whole seconds, since level n uses period^n seconds. */
  period: windowSchema.refine((ms) => ms % 1000 === 0, { message: 'backoff period must be whole seconds' }),
  levels: z.number().int().min(1).max(4),
  countWhen: countWhenSchema.optional(),
});

export const cfFieldSchema = z.enum(['country', 'colo', 'region', 'regionCode', 'asn', 'continent', 'city', 'postalCode']);

/**
 * One part of a rule's key. A composite key lists several parts.
 * - `ip`: the client address (IPv6 grouped by the policy's prefix).
 * - `bearer`, `basic-user`, `authorization`, `{ header }`: a credential, always hashed.
 * - `{ cf }`: a field of `request.cf`.
 * - `{ identity }`: a field of the resolved identity (subject, org, tier).
 * - `{ const }`: a constant, one budget for every caller.
 *
 * A request without one of the parts is not limited by the rule, unless the
 * part is `optional`: its absence is then a value of its own, so requests
 * without it share one budget (e.g. users without an organisation).
 */
const optionalPart = z.boolean().optional();
export const keyPartSchema = z.union(
  [
    z.enum(['ip', 'bearer', 'basic-user', 'authorization', 'method', 'path']),
    z.strictObject({ header: z.string().regex(/^[A-Za-z0-9-]+$/, 'header names use letters, digits and "-"'), optional: optionalPart }),
    z.strictObject({ cf: cfFieldSchema, optional: optionalPart }),
    z.strictObject({ identity: z.enum(['subject', 'org', 'tier']), optional: optionalPart }),
    z.strictObject({ const: z.string().min(1).max(128) }),
  ],
  { error: 'a key part is "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity } or { const }' },
);

const methodSchema = z
  .string()
  .regex(/^[A-Za-z]+$/, 'methods are words such as GET or POST')
  .transform((m) => m.toUpperCase());

/** A path pattern (see `compilePathPattern`), refused with the reason it cannot be compiled. */
const pathPatternSchema = z
  .string()
  .regex(/^(\*|\/.*)$/, 'path patterns start with "/" or are "*"')
  .superRefine((pattern, ctx) => {
    const error = pathPatternError(pattern);
    if (error) ctx.addIssue({ code: 'custom', message: error });
  });

/** Which requests a rule applies to. Every listed condition must hold; an omitted one always holds. */
export const matchSchema = z.strictObject({
  methods: z.array(methodSchema).min(1).optional(),
  /** Exact host names or `*.example.com`. */
  hosts: z.array(z.string().min(1)).min(1).optional(),
  /** Hosts the rule never applies to, even when `hosts` matches (e.g. a downloads domain with limits of its own). */
  exceptHosts: z.array(z.string().min(1)).min(1).optional(),
  /** Path patterns: `/x` exact, `/x/*` the path and everything below, `:name` one segment, `*` all; `(.:format)` or `(.json|yaml)` at the end allows a format suffix. */
  paths: z.array(pathPatternSchema).min(1).optional(),
  /** Path patterns the rule never applies to, even when `paths` matches (e.g. endpoints with limits of their own). */
  exceptPaths: z.array(pathPatternSchema).min(1).optional(),
  /** Identity tiers the rule applies to, `anonymous` for callers without a credential. */
  tiers: z.array(z.string().min(1)).min(1).optional(),
});

const headerSetSchema = z.enum([
  'ietf',
  'ratelimit',
  'ratelimit-policy',
  'x-ratelimit',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-count',
  'x-ratelimit-window',
  'x-ratelimit-interval',
]);

/** Headers the limiter writes itself on a refusal: the reason header cannot take their names. */
const OWN_HEADERS = /^(retry-after|content-type|cache-control|ratelimit|ratelimit-policy|x-ratelimit-.*)$/i;

const reasonHeaderSchema = z.union(
  [
    z.literal(false),
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'reasonHeader is a header name (letters, digits and "-", at most 64) or false')
      .refine((name) => !OWN_HEADERS.test(name), {
        message:
          'reasonHeader cannot be a header the limiter already sets (Retry-After, Content-Type, Cache-Control, RateLimit, RateLimit-Policy, X-RateLimit-*)',
      }),
  ],
  { error: 'reasonHeader is a header name or false' },
);

export const bodyFormatSchema = z.enum(['detail', 'jsonapi', 'problem', 'text']);

/** How refusals and rate-limit headers look. */
export const responseSchema = z.strictObject({
  /** Header families to emit; `ietf` is RateLimit + RateLimit-Policy, `x-ratelimit` is -Limit, -Remaining, -Reset. */
  headers: z.array(headerSetSchema).default(['ietf']),
  /** Emit rate-limit headers on every response or only on refusals. `Retry-After` is on every 429 regardless. */
  headersOn: z.enum(['always', 'limited']).default('always'),
  body: bodyFormatSchema.default('problem'),
  /** The refusal message; `{retryAfter}` is replaced by the seconds to wait. */
  message: z.string().max(1000).default('Rate limit exceeded. Retry in {retryAfter} seconds.'),
  /** JSON:API `title` and `code`, problem `title`. */
  title: z.string().max(200).default('Too many requests'),
  code: z.string().max(100).default('TOO_MANY_REQUESTS'),
  /** Message for requests refused by a blocklist or a ban. */
  blockedMessage: z.string().max(1000).default('Access denied.'),
  /** The header naming why a request was refused (`rate`, `quota`, `ban`, `block`, `unavailable`, …), or `false` for none. */
  reasonHeader: reasonHeaderSchema.default('RateLimit-Reason'),
});

/** Partial response settings a rule may override. */
export const responseOverrideSchema = z.strictObject({
  body: bodyFormatSchema.optional(),
  message: z.string().max(1000).optional(),
  title: z.string().max(200).optional(),
  code: z.string().max(100).optional(),
});

/** What to do when the key's Durable Object fails or is slow. */
export const onErrorSchema = z.strictObject({
  mode: z.enum(['open', 'closed']).default('open'),
  timeoutMs: z.number().int().min(1).max(30_000).default(50),
});

/**
 * Fail2ban-style bans: `after` refusals within `within` ban the key for
 * `duration`. With `blockAddress`, the client's address also goes on the
 * live block list (Workers KV) until the ban ends, so every request from it
 * is refused, whatever rule or credential it comes with ("IP blackholing").
 */
export const banSchema = z.strictObject({
  after: z.number().int().min(1).max(1e9),
  within: durationSchema,
  duration: durationSchema,
  status: z.union([z.literal(403), z.literal(429)], { error: 'ban status is 403 or 429' }).default(403),
  blockAddress: z.boolean().default(false),
});

/** Request cost: a constant, or read from a header (bounded), e.g. a batch size. */
export const costSchema = z.union(
  [
    z.number().int().min(0).max(1e9),
    z.strictObject({
      header: z.string().regex(/^[A-Za-z0-9-]+$/),
      default: z.number().int().min(0).default(1),
      max: z.number().int().min(1).max(1e9),
    }),
  ],
  { error: 'cost is a whole number, or { header, max, default }' },
);

/**
 * Cost reported by the origin: the response header `header` (e.g. GraphQL
 * points, rows scanned, tokens generated) tells what the request cost once
 * the origin has answered. The request is admitted on the rule's `cost` (the
 * advance); the difference is charged, or given back, when the response
 * arrives. A value above `max` counts as `max`; a missing or malformed one
 * counts as the advance. The header is removed from the response the client
 * sees unless `keep` is true.
 */
export const responseCostSchema = z.strictObject({
  header: z
    .string({
      error: (issue) =>
        issue.input === undefined ? 'required: the name of the response header that carries the cost, e.g. "X-Cost"' : undefined,
    })
    .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'header names use letters, digits and "-" (at most 64)')
    .refine((name) => !OWN_HEADERS.test(name), {
      message:
        'the cost header cannot be a header the limiter sets itself (Retry-After, Content-Type, Cache-Control, RateLimit, RateLimit-Policy, X-RateLimit-*)',
    }),
  max: z
    .number({
      error: (issue) =>
        issue.input === undefined ? 'required: the most units one response may charge, a whole number from 1 to 1e9' : undefined,
    })
    .int()
    .min(1)
    .max(1e9),
  keep: z.boolean().default(false),
});

/**
 * Hot-key leases: the key's object lends isolates budgets of up to `size`
 * units, spent locally for at most `ttl` (and never past the window). Never
 * admits more than exact mode; see the README for the trade-off.
 */
export const leaseSchema = z.strictObject({
  size: z.number().int().min(1).max(1_000_000),
  ttl: durationSchema.refine((ms) => ms <= 60_000, { message: 'lease ttl must be at most 60s' }).default(1000),
});

/** The longest a smoothed request may be held: a held request keeps its client's connection (and the worker's) open. */
export const MAX_SMOOTH_WAIT_MS = 10_000;

/**
 * Smoothing instead of refusing (GCRA limits only): a request whose wait
 * would be at most `maxWait` is held by the worker and forwarded when the
 * budget allows, instead of refused. At most `maxQueued` requests wait per
 * key in one isolate; beyond that, requests are refused as without smoothing.
 */
export const smoothSchema = z.strictObject({
  maxWait: durationSchema.refine((ms) => ms <= MAX_SMOOTH_WAIT_MS, { message: 'smooth maxWait must be at most 10s' }),
  maxQueued: z.number().int().min(1).max(1000),
});

export const ruleSchema = z
  .strictObject({
    name: nameSchema,
    match: matchSchema.default({}),
    key: z
      .union([keyPartSchema, z.array(keyPartSchema).min(1).max(8)], {
        error:
          'a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
      })
      .transform((k) => (Array.isArray(k) ? k : [k])),
    limits: z.array(limitSchema).default([]),
    backoff: backoffSchema.optional(),
    /** Whether refused requests still count toward this rule's limits. */
    countRefused: z.boolean().default(false),
    /** Count and report what would be refused, never refuse. */
    shadow: z.boolean().default(false),
    onError: onErrorSchema.optional(),
    cost: costSchema.default(1),
    ban: banSchema.optional(),
    response: responseOverrideSchema.optional(),
    /** Opt-in hot-key leases; exact mode (every request asks the key's object) without it. */
    lease: leaseSchema.optional(),
    /**
     * Count the origin's answers with these statuses instead of requests
     * (e.g. `{ status: [401, 403] }` for failed authentication). A request is
     * counted once its response arrives and only when the status matches; a
     * request arriving when the count has reached a limit is refused before the
     * origin is asked.
     */
    countResponses: countWhenSchema.optional(),
    /**
     * Take each request's cost from a header of the origin's response: the
     * request is admitted on `cost` and the difference is settled when the
     * response arrives (see `responseCostSchema`).
     */
    responseCost: responseCostSchema.optional(),
    /**
     * Keep the rule's limits out of the rate-limit headers and the quota
     * endpoint until they refuse: for floors that bound abuse (a per-address
     * ceiling, an auth-failure count) rather than describe the budget callers
     * plan by.
     */
    quiet: z.boolean().default(false),
    /** Hold requests whose wait is short and forward them when the budget allows, instead of refusing them (see `smoothSchema`). */
    smooth: smoothSchema.optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.smooth) {
      const smoothIssue = (message: string) => ctx.addIssue({ code: 'custom', message, path: ['smooth'] });
      const algorithms = [...rule.limits.map((l) => l.algorithm), ...(rule.backoff ? [rule.backoff.algorithm] : [])];
      const other = algorithms.find((a) => a !== 'gcra');
      if (other)
        smoothIssue(
          `smooth needs gcra limits: a ${other} limit cannot say when a request would fit without counting it in a window it has not reached`,
        );
      if (rule.lease) smoothIssue("smooth cannot be combined with lease: a wait is reserved in the key's object, which a lease bypasses");
      if (rule.shadow) smoothIssue('smooth cannot be combined with shadow: a shadow rule never refuses, so it has nothing to hold');
      if (rule.countResponses)
        smoothIssue(
          'smooth cannot be combined with countResponses: the rule counts responses after the fact, so there is no place to reserve',
        );
    }
    const holdsSlots = rule.limits.some((l) => l.algorithm === 'concurrency');
    if (rule.lease) {
      const leaseIssue = (message: string) => ctx.addIssue({ code: 'custom', message, path: ['lease'] });
      const algorithms = [...rule.limits.map((l) => l.algorithm), ...(rule.backoff ? [rule.backoff.algorithm] : [])];
      if (holdsSlots)
        leaseIssue("leases cannot hold concurrency slots: every request, and the end of its response, must reach the key's object");
      const refused = algorithms.find((a) => a !== 'concurrency' && !LEASE_ALGORITHMS.includes(a));
      if (refused)
        leaseIssue(
          `leases need ${LEASE_ALGORITHMS.join(' or ')} limits: a ${refused} bucket refills continuously, so budget spent after it was granted could exceed its burst`,
        );
      if (rule.limits.some((l) => l.countWhen) || rule.backoff?.countWhen)
        leaseIssue('leases cannot be combined with countWhen: outcome-counted limits need the object to see every response');
      if (rule.countRefused) leaseIssue('leases cannot be combined with countRefused: refusals must reach the object to count');
      if (rule.shadow) leaseIssue('leases cannot be combined with shadow');
      if (rule.ban) leaseIssue('leases cannot be combined with ban: refusals must reach the object to count toward the ban');
      if (rule.limits.some((l) => l.notify))
        leaseIssue('leases cannot be combined with notify: a lease spends units the object only learns of in bulk');
      if (rule.limits.some((l) => l.period))
        leaseIssue('leases cannot be combined with calendar periods: a lease spends units by the window, not the period');
    }
    if (rule.countResponses) {
      const countIssue = (message: string) => ctx.addIssue({ code: 'custom', message, path: ['countResponses'] });
      if (rule.limits.some((l) => l.countWhen) || rule.backoff?.countWhen)
        countIssue('countResponses cannot be combined with countWhen: the rule already counts responses only');
      if (rule.countRefused)
        countIssue(
          'countResponses cannot be combined with countRefused: a refused request never reaches the origin, so it has no response to count',
        );
      if (rule.lease) countIssue('countResponses cannot be combined with lease: every counted response must reach the object');
      if (holdsSlots)
        countIssue('countResponses cannot be combined with concurrency limits: a rule counting responses admits before it counts');
    }
    if (rule.responseCost) {
      const advance = typeof rule.cost === 'number' ? rule.cost : rule.cost.default;
      // A max that failed its own checks (below 1) is reported once, there.
      if (rule.responseCost.max >= 1 && rule.responseCost.max < advance)
        ctx.addIssue({
          code: 'custom',
          message: `max (${rule.responseCost.max}) is below the rule's advance cost (${advance}): no response could report what was admitted`,
          path: ['responseCost', 'max'],
        });
    }
    if (rule.limits.length === 0 && !rule.backoff) {
      ctx.addIssue({ code: 'custom', message: 'a rule needs at least one limit or a backoff', path: ['limits'] });
    }
    // Limits are stored under their names (a window's name by default), so two with one name would share a counter.
    const names = new Set<string>();
    rule.limits.forEach((limit, i) => {
      const name = limit.name ?? (typeof limit.window === 'number' ? formatDuration(limit.window) : '');
      if (!name) return;
      if (names.has(name)) {
        const message = limit.name
          ? `duplicate limit name "${name}"`
          : `another limit is already named "${name}" after its window: give these limits distinct names`;
        ctx.addIssue({ code: 'custom', message, path: ['limits', i, 'name'] });
      }
      names.add(name);
    });
    const backoff = rule.backoff;
    if (backoff) {
      for (let level = 1; level <= backoff.levels; level++) {
        if (names.has(`${backoff.name}-${level}`))
          ctx.addIssue({
            code: 'custom',
            message: `a limit is named "${backoff.name}-${level}", the name of backoff level ${level}`,
            path: ['backoff', 'name'],
          });
      }
    }
  });

/** An address or CIDR range, IPv4 or IPv6. Checked when the policy is compiled. */
const cidrSchema = z.string().min(2).max(64);

/** Requests that a list entry matches: any listed condition suffices. */
export const listSchema = z.strictObject({
  ips: z.array(cidrSchema).default([]),
  countries: z.array(z.string().regex(/^[A-Z]{2}$/, 'countries are ISO 3166 alpha-2 codes such as "DE"')).default([]),
  asns: z.array(z.number().int().min(0)).default([]),
  /** SHA-256 hex digests of credentials (as `npm run hash-key` prints), never the raw credential. */
  credentials: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'credentials are listed by their SHA-256 hex digest')).default([]),
});

/** Where a caller's credential comes from, and how it maps to an identity and tier. */
export const identitySchema = z.strictObject({
  /** The credential: a bearer token, the Basic user, the whole Authorization value, or a header. */
  credential: z.union(
    [z.enum(['bearer', 'basic-user', 'authorization']), z.strictObject({ header: z.string().regex(/^[A-Za-z0-9-]+$/) })],
    { error: 'credential is "bearer", "basic-user", "authorization" or { header }' },
  ),
  /** Tiers told apart by the token itself: the first matching prefix or pattern wins. */
  prefixes: z
    .array(
      z
        .strictObject({ prefix: z.string().min(1).optional(), pattern: z.string().min(1).optional(), tier: z.string().min(1) })
        .refine((p) => (p.prefix === undefined) !== (p.pattern === undefined), 'give exactly one of prefix and pattern'),
    )
    .default([]),
  /** Verified JWT claims: HS256 secret from the named secret binding, or a JWKS. */
  jwt: z
    .strictObject({
      secretBinding: z
        .string()
        .regex(/^[A-Z][A-Z0-9_]*$/)
        .optional(),
      jwksUrl: z.url().optional(),
      algorithms: z
        .array(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'EdDSA']))
        .min(1)
        .default(['HS256']),
      issuer: z.string().optional(),
      audience: z.string().optional(),
      subjectClaim: z.string().default('sub'),
      orgClaim: z.string().default('org'),
      tierClaim: z.string().default('tier'),
    })
    .refine((j) => (j.secretBinding === undefined) !== (j.jwksUrl === undefined), 'give exactly one of secretBinding and jwksUrl')
    .optional(),
  /** Look up identity records in the KV namespace (`identity:<sha256 of credential>`). */
  records: z.boolean().default(false),
  /** Tier of a credential no method recognises. */
  defaultTier: z.string().min(1).default('default'),
});

/** The headers that tell the origin the client's address, in the spelling a policy names them. */
export const CLIENT_ADDRESS_HEADERS = ['X-Forwarded-For', 'X-Real-IP', 'Forwarded'] as const;

/**
 * What the origin is told of the client: the headers that carry the address
 * the limiter used. Whatever the client sent in any of them is dropped first
 * (a trusted proxy's `X-Forwarded-For` chain is kept, the address appended);
 * `[]` sends none; `false` leaves all three exactly as the client sent them.
 */
export const forwardClientAddressSchema = z
  .union([z.literal(false), z.array(z.enum(CLIENT_ADDRESS_HEADERS))], {
    error: 'false, or a list of "X-Forwarded-For", "X-Real-IP" and "Forwarded"',
  })
  .refine((headers) => headers === false || new Set(headers).size === headers.length, 'names a header twice')
  .default(['X-Forwarded-For', 'X-Real-IP']);

/** A share strictly between 0 and 1, named in its message. */
const shareBelowOne = (what: string) =>
  z
    .number({ error: `${what} is a number above 0 and below 1` })
    .gt(0, `${what} is a number above 0 and below 1`)
    .lt(1, `${what} is a number above 0 and below 1`);

/**
 * Limits that follow the origin's health: when the origin's recent answers
 * cross a threshold (a 5xx share, a latency quantile) or it answers 503 with
 * `Retry-After`, the named rules' limits are cut by `cut` (never below
 * `floor` of the policy's), then raised by `recoverBy` every `every` while no
 * new trigger fires (AIMD). State is per isolate (see docs/policies.md).
 */
export const originHealthSchema = z
  .strictObject({
    /** The rules whose limits are reduced: windowed limits (fixed or sliding), without `lease`. */
    rules: z
      .array(nameSchema)
      .min(1, 'name at least one rule whose limits follow the origin')
      .refine((names) => new Set(names).size === names.length, 'names a rule twice'),
    /** How far back the origin's answers count (counted in tenths of it): 1s to 10m. */
    window: durationSchema.refine((ms) => ms >= 1000 && ms <= 600_000, { message: 'window must be between 1s and 10m' }).default(10_000),
    /** Answers the window must hold before its shares may trigger a cut. */
    minRequests: z
      .number({ error: 'minRequests is a whole number from 1 to 1000000' })
      .int('minRequests is a whole number from 1 to 1000000')
      .min(1, 'minRequests is a whole number from 1 to 1000000')
      .max(1_000_000, 'minRequests is a whole number from 1 to 1000000')
      .default(20),
    /** Cut when at least this share of the window's answers are 5xx (the forwarder's 502 and 504 included). */
    errorRate: z
      .number({ error: 'errorRate is a share above 0 and at most 1' })
      .gt(0, 'errorRate is a share above 0 and at most 1')
      .max(1, 'errorRate is a share above 0 and at most 1')
      .optional(),
    /** Cut when the window's `p` quantile of latency is above `above`, i.e. more than `1 − p` of its answers took longer. */
    latency: z.strictObject({ p: shareBelowOne('latency.p'), above: durationSchema }).optional(),
    /** Cut when the origin answers 503 with `Retry-After`, and hold the cut (no recovery) until then. */
    retryAfter: z.boolean({ error: 'retryAfter is true or false' }).default(true),
    /** The longest an origin's `Retry-After` holds the cut. */
    maxHold: durationSchema.refine((ms) => ms <= 3_600_000, { message: 'maxHold must be at most 1h' }).default(300_000),
    /** The factor each trigger multiplies the current one by. */
    cut: shareBelowOne('cut').default(0.5),
    /** What each recovery step adds to the factor, up to 1. */
    recoverBy: z
      .number({ error: 'recoverBy is a share above 0 and at most 1' })
      .gt(0, 'recoverBy is a share above 0 and at most 1')
      .max(1, 'recoverBy is a share above 0 and at most 1')
      .default(0.1),
    /** How often the factor is raised by `recoverBy` while no trigger fires. */
    every: durationSchema.refine((ms) => ms >= 100 && ms <= 600_000, { message: 'every must be between 100ms and 10m' }).default(5_000),
    /** The lowest factor: limits are never cut below this share of the policy's. */
    floor: shareBelowOne('floor').default(0.1),
  })
  .refine((h) => h.errorRate !== undefined || h.latency !== undefined || h.retryAfter, {
    message: 'give at least one trigger: errorRate, latency, or retryAfter: true',
    path: ['errorRate'],
  });

export const policySchema = z
  .strictObject({
    /** Where editors find the JSON Schema of a JSON policy (`edge-ratelimit/schema/policy.schema.json`); not used otherwise. */
    $schema: z.string().optional(),
    name: nameSchema,
    /** Client address: `CF-Connecting-IP`, unless a proxy in front is trusted to set another header. */
    clientIp: z
      .strictObject({
        trustedProxyHeader: z.enum(['X-Forwarded-For', 'X-Real-IP', 'True-Client-IP']).optional(),
        /** With X-Forwarded-For: how many proxies of yours append to it; the address that many from the right is used. */
        trustedHops: z.number().int().min(1).max(16).default(1),
        ipv6Prefix: z.number().int().min(32).max(128).default(64),
        ipv4Prefix: z.number().int().min(8).max(32).default(32),
      })
      .default({ trustedHops: 1, ipv6Prefix: 64, ipv4Prefix: 32 }),
    forwardClientAddress: forwardClientAddressSchema,
    /** Header the origin honours to change the method (e.g. `X-HTTP-Method-Override`); matching then uses it. */
    methodOverrideHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),
    /** Match paths case-sensitively. Off by default, so `/X` cannot dodge a limit on `/x`. */
    caseSensitivePaths: z.boolean().default(false),
    identity: identitySchema.optional(),
    allow: listSchema.optional(),
    block: listSchema.optional(),
    response: responseSchema.default(responseSchema.parse({})),
    onError: onErrorSchema.default({ mode: 'open', timeoutMs: 50 }),
    /**
     * The self-service quota endpoint: `GET <path>` tells callers their own
     * limits, remaining budget and resets without counting. Off unless set.
     */
    quota: z
      .strictObject({
        path: z
          .string()
          .regex(/^\/[A-Za-z0-9._~/-]*$/, 'the quota path is a plain path such as "/.well-known/ratelimit"')
          .default('/.well-known/ratelimit'),
        /**
         * How often one client address may read it (fixed window): its
         * answer tells which tier a credential resolves to, so it must not
         * be an unlimited oracle for which credentials exist.
         */
        perAddress: z
          .strictObject({ limit: z.number().int().min(1).max(1e9), window: windowSchema })
          .default({ limit: 60, window: 60_000 }),
      })
      .optional(),
    /**
     * The traffic record: one compact line per request (or the `sample`
     * share of them) through Workers Logs, with key digests only, for
     * `npm run replay`. Off unless set.
     */
    trafficRecord: z
      .strictObject({
        sample: z
          .number()
          .gt(0, 'sample is a share of requests above 0 and at most 1')
          .max(1, 'sample is a share of requests above 0 and at most 1')
          .default(1),
      })
      .optional(),
    /** Limits that follow the origin's health (see `originHealthSchema`). Off unless set. */
    originHealth: originHealthSchema.optional(),
    rules: z.array(ruleSchema).min(1),
  })
  .superRefine((policy, ctx) => {
    policy.originHealth?.rules.forEach((name, i) => {
      const issue = (message: string) => ctx.addIssue({ code: 'custom', message, path: ['originHealth', 'rules', i] });
      const rule = policy.rules.find((r) => r.name === name);
      if (!rule) {
        issue(`no rule is named "${name}"`);
        return;
      }
      // Raw input when the rule failed its own checks: only judge what is there.
      const algorithms = [...(rule.limits ?? []).map((l) => l.algorithm), ...(rule.backoff ? [rule.backoff.algorithm] : [])];
      if (algorithms.includes('gcra'))
        issue(`rule "${name}" has gcra limits: only fixed-window and sliding-window limits can be reduced exactly`);
      if (rule.lease) issue(`rule "${name}" has a lease: a leased budget is spent in the isolate at the limit it was granted under`);
    });
    const seen = new Set<string>();
    // One response header is either removed or kept: two rules reading it must agree.
    const keeps = new Map<string, { readonly rule: string; readonly keep: boolean }>();
    policy.rules.forEach((rule, i) => {
      // Runs even when a rule failed its own checks: its fields may then still be raw input.
      const cost = rule.responseCost as { header?: unknown; keep?: unknown } | undefined;
      if (typeof cost?.header === 'string') {
        const header = cost.header.toLowerCase();
        const keep = cost.keep === true;
        const first = keeps.get(header);
        if (!first) keeps.set(header, { rule: rule.name, keep });
        else if (first.keep !== keep)
          ctx.addIssue({
            code: 'custom',
            message: `rule "${first.rule}" reads the same header with keep ${first.keep}: rules reading one header agree on keeping it`,
            path: ['rules', i, 'responseCost', 'keep'],
          });
      }
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', message: `duplicate rule name "${rule.name}"`, path: ['rules', i, 'name'] });
      seen.add(rule.name);
      // Runs even when a rule failed its own checks; its key may then still be the raw input.
      const needsIdentity =
        (Array.isArray(rule.key) && rule.key.some((p) => typeof p === 'object' && p !== null && 'identity' in p)) ||
        rule.match?.tiers !== undefined;
      if (needsIdentity && !policy.identity) {
        ctx.addIssue({
          code: 'custom',
          message: 'uses identity or tiers, but the policy has no "identity" section',
          path: ['rules', i, 'key'],
        });
      }
    });
  });

/** A policy as written: what `definePolicy` accepts (defaults may be left out). */
export type PolicyInput = z.input<typeof policySchema>;
/** A validated policy with every default filled in. */
export type Policy = z.output<typeof policySchema>;
export type Rule = z.output<typeof ruleSchema>;
export type Limit = z.output<typeof limitSchema>;
export type KeyPart = z.output<typeof keyPartSchema>;
export type ResponseSettings = z.output<typeof responseSchema>;
export type OnError = z.output<typeof onErrorSchema>;
export type CountWhen = z.output<typeof countWhenSchema>;
export type Ban = z.output<typeof banSchema>;
export type ResponseCost = z.output<typeof responseCostSchema>;
export type Smooth = z.output<typeof smoothSchema>;
export type IdentitySettings = z.output<typeof identitySchema>;
export type ListSettings = z.output<typeof listSchema>;
export type OriginHealthSettings = z.output<typeof originHealthSchema>;
export type ClientAddressHeader = (typeof CLIENT_ADDRESS_HEADERS)[number];
