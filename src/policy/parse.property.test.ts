import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile';
import { PolicyError, parsePolicy } from './parse';

/** Either a plausible value for a field or anything at all, so the fuzzer reaches deep fields. */
const maybe = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: fc.jsonValue() as fc.Arbitrary<unknown> });

const duration = fc.oneof(
  fc.integer({ min: -10, max: 40_000_000_000 }),
  fc.constantFrom('1s', '30s', '5m', '1h', '1d', '366d', '367d', '500ms', '1.5s', '', ' 1m ', '1 m', '1e3s', 'NaNs'),
);
const name = fc.oneof(fc.constantFrom('a', 'per-ip', 'x.y_z', '-bad', ''), fc.string({ maxLength: 70 }));
const keyPart = fc.oneof(
  fc.constantFrom('ip', 'bearer', 'basic-user', 'authorization', 'method', 'path', 'user'),
  fc.record({ header: fc.constantFrom('X-Key', 'X Key', '') }),
  fc.record({ cf: fc.constantFrom('country', 'asn', 'botScore') }),
  fc.record({ identity: fc.constantFrom('tier', 'subject', 'email') }),
  fc.record({ const: fc.string({ maxLength: 130 }) }),
);
const limit = fc.record(
  {
    name: maybe(name),
    algorithm: maybe(fc.constantFrom('fixed-window', 'sliding-window', 'gcra', 'leaky')),
    limit: maybe(fc.oneof(fc.integer({ min: -2, max: 1000 }), fc.double())),
    window: maybe(duration),
    burst: maybe(fc.integer({ min: -1, max: 100 })),
    countWhen: maybe(
      fc.record({
        status: fc.array(fc.oneof(fc.integer({ min: 0, max: 700 }), fc.constantFrom('2xx', '5xx', '9xx', 'x')), { maxLength: 3 }),
      }),
    ),
  },
  { requiredKeys: ['limit', 'window'] },
);
const rule = fc.record(
  {
    name: maybe(name),
    match: maybe(
      fc.record(
        {
          methods: fc.array(fc.constantFrom('GET', 'post', 'GET POST'), { maxLength: 2 }),
          paths: fc.array(fc.constantFrom('*', '/x', '/x/*', '/a/:id', 'x', '/(', '/[a-z]+'), { maxLength: 2 }),
          hosts: fc.array(fc.constantFrom('api.example.com', '*.example.com', ''), { maxLength: 2 }),
          tiers: fc.array(fc.constantFrom('pro', 'anonymous'), { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ),
    ),
    key: maybe(fc.oneof(keyPart, fc.array(keyPart, { maxLength: 9 }))),
    limits: maybe(fc.array(limit, { maxLength: 3 })),
    backoff: maybe(fc.record({ limit: fc.integer({ min: 0, max: 10 }), period: duration, levels: fc.integer({ min: 0, max: 5 }) })),
    countRefused: maybe(fc.boolean()),
    shadow: maybe(fc.boolean()),
    onError: maybe(
      fc.record({ mode: fc.constantFrom('open', 'closed', 'half'), timeoutMs: fc.integer({ min: -1, max: 40_000 }) }, { requiredKeys: [] }),
    ),
    cost: maybe(
      fc.oneof(
        fc.integer({ min: -1, max: 10 }),
        fc.record({ header: fc.constantFrom('X-Cost', 'X Cost'), max: fc.integer({ min: 0, max: 10 }) }, { requiredKeys: ['header'] }),
      ),
    ),
    ban: maybe(
      fc.record(
        { after: fc.integer({ min: 0, max: 5 }), within: duration, duration, status: fc.constantFrom(403, 429, 500) },
        { requiredKeys: ['after'] },
      ),
    ),
    lease: maybe(fc.record({ size: fc.integer({ min: 0, max: 100 }), ttl: duration }, { requiredKeys: ['size'] })),
  },
  { requiredKeys: ['name', 'key'] },
);
const list = fc.record(
  {
    ips: fc.array(fc.constantFrom('10.0.0.0/8', '10.0.0.300', '2001:db8::/32', '::1', 'x', '1.2.3.4/33'), { maxLength: 3 }),
    countries: fc.array(fc.constantFrom('DE', 'de', 'USA'), { maxLength: 2 }),
    asns: fc.array(fc.integer({ min: -1, max: 70_000 }), { maxLength: 2 }),
    credentials: fc.array(fc.constantFrom('a'.repeat(64), 'raw-key'), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const policy = fc.record(
  {
    name: maybe(name),
    clientIp: maybe(
      fc.record(
        {
          trustedProxyHeader: fc.constantFrom('X-Forwarded-For', 'X-Real-IP', 'Forwarded'),
          trustedHops: fc.integer({ min: 0, max: 20 }),
          ipv6Prefix: fc.integer({ min: 0, max: 130 }),
        },
        { requiredKeys: [] },
      ),
    ),
    methodOverrideHeader: maybe(fc.constantFrom('X-HTTP-Method-Override', 'X Override')),
    caseSensitivePaths: maybe(fc.boolean()),
    identity: maybe(
      fc.record(
        {
          credential: fc.constantFrom('bearer', 'cookie'),
          prefixes: fc.array(
            fc.record(
              { prefix: fc.constantFrom('pk_', ''), pattern: fc.constantFrom('^sk_', '(', '[a-'), tier: fc.constantFrom('pro', '') },
              { requiredKeys: ['tier'] },
            ),
            { maxLength: 2 },
          ),
        },
        { requiredKeys: ['credential'] },
      ),
    ),
    allow: maybe(list),
    block: maybe(list),
    response: maybe(
      fc.record(
        {
          headers: fc.array(fc.constantFrom('ietf', 'x-ratelimit', 'draft-7'), { maxLength: 2 }),
          body: fc.constantFrom('problem', 'html'),
        },
        { requiredKeys: [] },
      ),
    ),
    onError: maybe(
      fc.record({ mode: fc.constantFrom('open', 'closed'), timeoutMs: fc.integer({ min: 0, max: 31_000 }) }, { requiredKeys: [] }),
    ),
    rules: maybe(fc.array(rule, { maxLength: 4 })),
  },
  { requiredKeys: ['name', 'rules'] },
);

/** Policies built from valid parts only, so the parser's accepting path is fuzzed too. */
const validLimit = fc.oneof(
  fc.record({
    algorithm: fc.constantFrom('fixed-window', 'sliding-window'),
    limit: fc.integer({ min: 0, max: 1e6 }),
    window: fc.constantFrom('1s', '10s', '1m', '1h', '1d'),
  }),
  fc.record({
    algorithm: fc.constant('gcra'),
    limit: fc.integer({ min: 1, max: 1e6 }),
    window: fc.integer({ min: 1000, max: 86_400_000 }),
    burst: fc.integer({ min: 1, max: 1e6 }),
  }),
);
const validRule = (i: number) =>
  fc.record(
    {
      name: fc.constant(`r${i}`),
      key: fc.oneof(
        fc.constantFrom('ip', 'bearer', 'basic-user', 'method', 'path'),
        fc.constant({ header: 'X-Key' }),
        fc.constant(['ip', { cf: 'country' }]),
      ),
      match: fc.record(
        {
          methods: fc.constantFrom(['GET'], ['post', 'put']),
          paths: fc.constantFrom(['*'], ['/x', '/y/*'], ['/a/:id/b']),
          hosts: fc.constantFrom(['api.example.com'], ['*.example.com']),
        },
        { requiredKeys: [] },
      ),
      limits: fc
        .uniqueArray(validLimit, { minLength: 1, maxLength: 3, selector: (l) => `${l.window}` })
        .map((ls) => ls.map((l, j) => ({ ...l, name: `l${j}` }))),
      onError: fc.record({ mode: fc.constantFrom('open', 'closed'), timeoutMs: fc.integer({ min: 1, max: 30_000 }) }),
      cost: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.record({ header: fc.constant('X-Cost'), max: fc.integer({ min: 1, max: 100 }) })),
      countRefused: fc.boolean(),
    },
    { requiredKeys: ['name', 'key', 'limits'] },
  );
const validPolicy = fc.record(
  {
    name: fc.constantFrom('a', 'api-v1'),
    clientIp: fc.record(
      {
        trustedProxyHeader: fc.constantFrom('X-Forwarded-For', 'X-Real-IP'),
        trustedHops: fc.integer({ min: 1, max: 16 }),
        ipv6Prefix: fc.integer({ min: 32, max: 128 }),
      },
      { requiredKeys: [] },
    ),
    methodOverrideHeader: fc.constant('X-HTTP-Method-Override'),
    caseSensitivePaths: fc.boolean(),
    allow: fc.record(
      { ips: fc.constantFrom(['10.0.0.0/8'], ['2001:db8::/32', '::1']), countries: fc.constantFrom([], ['DE']) },
      { requiredKeys: [] },
    ),
    response: fc.record(
      { headers: fc.constantFrom(['ietf'], ['x-ratelimit', 'ietf']), body: fc.constantFrom('problem', 'text', 'detail', 'jsonapi') },
      { requiredKeys: [] },
    ),
    rules: fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => validRule(i)))),
  },
  { requiredKeys: ['name', 'rules'] },
);

/** Top-level fields an issue line may start with. */
const FIELDS = [
  'name',
  'clientIp',
  'methodOverrideHeader',
  'caseSensitivePaths',
  'identity',
  'allow',
  'block',
  'response',
  'onError',
  'rules',
];

/** Parses, returning the policy or the PolicyError; anything else thrown fails the property. */
function attempt(input: unknown) {
  try {
    return { policy: parsePolicy(input, 'fuzz') };
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return { error };
  }
}

describe('the policy parser under fuzzing', () => {
  it('never throws anything but a PolicyError, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => void attempt(input)),
      { numRuns: 500 },
    );
  });

  it('never throws anything but a PolicyError, for policy-shaped input with wrong values anywhere', () => {
    fc.assert(
      fc.property(policy, (input) => void attempt(input)),
      { numRuns: 1000 },
    );
  });

  it('reports every problem as a line naming its field', () => {
    fc.assert(
      fc.property(policy, (input) => {
        const result = attempt(input);
        if (!result.error) return;
        expect(result.error.issues.length).toBeGreaterThan(0);
        for (const issue of result.error.issues) {
          expect(
            issue.startsWith('(policy): ') ||
              FIELDS.some((f) => issue.startsWith(`${f}.`) || issue.startsWith(`${f}[`) || issue.startsWith(`${f}:`)),
          ).toBe(true);
          expect(issue).toContain(': ');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts policies built from valid parts; they compile, and parsing them again changes nothing', () => {
    fc.assert(
      fc.property(validPolicy, (input) => {
        const parsed = parsePolicy(input, 'fuzz');
        expect(() => compilePolicy(parsed)).not.toThrow();
        expect(parsePolicy(parsed, 'again')).toEqual(parsed);
      }),
      { numRuns: 300 },
    );
  });

  it('any policy the loose generator gets accepted compiles too', () => {
    fc.assert(
      fc.property(policy, (input) => {
        const result = attempt(input);
        if (result.policy) expect(() => compilePolicy(result.policy)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
