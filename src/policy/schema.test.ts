import { describe, expect, it } from 'vitest';
import { PolicyError, parsePolicy } from './parse';
import { policyErrorOf } from './test-support';

/** One rejecting fixture per schema rule: what is wrong, the input, and the exact issues reported. */
const rule = (extra: Record<string, unknown> = {}) => ({ name: 'r', key: 'ip', limits: [{ limit: 10, window: '1m' }], ...extra });
const limit = (extra: Record<string, unknown>) => rule({ limits: [{ limit: 10, window: '1m', ...extra }] });
const policy = (extra: Record<string, unknown> = {}, rules: unknown[] = [rule()]) => ({ name: 'p', rules, ...extra });
const withRule = (extra: Record<string, unknown>) => policy({}, [rule(extra)]);
const withLimit = (extra: Record<string, unknown>) => policy({}, [limit(extra)]);
/** A GCRA limit: the one algorithm `smooth` takes. */
const paced = { algorithm: 'gcra', limit: 10, window: '1s', burst: 2 };
const identity = (extra: Record<string, unknown>) => policy({ identity: { credential: 'bearer', ...extra } });

const REJECTED: Array<[string, unknown, string[]]> = [
  // the document
  ['not an object', 'rules: []', ['(policy): Invalid input: expected object, received string']],
  ['null', null, ['(policy): Invalid input: expected object, received null']],
  ['an array', [policy()], ['(policy): Invalid input: expected object, received array']],
  ['no name', { rules: [rule()] }, ['name: Invalid input: expected string, received undefined']],
  ['no rules', { name: 'p' }, ['rules: Invalid input: expected array, received undefined']],
  ['an empty rule list', policy({}, []), ['rules: Too small: expected array to have >=1 items']],
  ['an unknown top-level field', policy({ rule: [] }), ['(policy): unknown field(s) "rule"']],
  ['a policy name with a space', { ...policy(), name: 'my policy' }, ['name: names use letters, digits, "_", "." and "-" (at most 64)']],
  [
    'a policy name of 65 characters',
    { ...policy(), name: 'p'.repeat(65) },
    ['name: names use letters, digits, "_", "." and "-" (at most 64)'],
  ],
  ['a policy name starting with a dash', { ...policy(), name: '-p' }, ['name: names use letters, digits, "_", "." and "-" (at most 64)']],
  // clientIp
  [
    'an unknown trusted proxy header',
    policy({ clientIp: { trustedProxyHeader: 'X-Client-IP' } }),
    ['clientIp.trustedProxyHeader: Invalid option: expected one of "X-Forwarded-For"|"X-Real-IP"|"True-Client-IP"'],
  ],
  ['trustedHops 0', policy({ clientIp: { trustedHops: 0 } }), ['clientIp.trustedHops: Too small: expected number to be >=1']],
  ['trustedHops 17', policy({ clientIp: { trustedHops: 17 } }), ['clientIp.trustedHops: Too big: expected number to be <=16']],
  ['ipv6Prefix 31', policy({ clientIp: { ipv6Prefix: 31 } }), ['clientIp.ipv6Prefix: Too small: expected number to be >=32']],
  ['ipv6Prefix 129', policy({ clientIp: { ipv6Prefix: 129 } }), ['clientIp.ipv6Prefix: Too big: expected number to be <=128']],
  ['ipv4Prefix 7', policy({ clientIp: { ipv4Prefix: 7 } }), ['clientIp.ipv4Prefix: Too small: expected number to be >=8']],
  ['ipv4Prefix 33', policy({ clientIp: { ipv4Prefix: 33 } }), ['clientIp.ipv4Prefix: Too big: expected number to be <=32']],
  ['an unknown clientIp field', policy({ clientIp: { header: 'X' } }), ['clientIp: unknown field(s) "header"']],
  // forwardClientAddress
  [
    'forwardClientAddress true',
    policy({ forwardClientAddress: true }),
    ['forwardClientAddress: false, or a list of "X-Forwarded-For", "X-Real-IP" and "Forwarded"'],
  ],
  [
    'forwardClientAddress as one string',
    policy({ forwardClientAddress: 'X-Forwarded-For' }),
    ['forwardClientAddress: false, or a list of "X-Forwarded-For", "X-Real-IP" and "Forwarded"'],
  ],
  [
    'an unknown forwarding header',
    policy({ forwardClientAddress: ['X-Client-IP'] }),
    ['forwardClientAddress: false, or a list of "X-Forwarded-For", "X-Real-IP" and "Forwarded"'],
  ],
  [
    'a forwarding header named twice',
    policy({ forwardClientAddress: ['X-Real-IP', 'X-Real-IP'] }),
    ['forwardClientAddress: names a header twice'],
  ],
  // top-level switches
  [
    'a methodOverrideHeader with a colon',
    policy({ methodOverrideHeader: 'X-Override:' }),
    ['methodOverrideHeader: Invalid string: must match pattern /^[A-Za-z0-9-]+$/'],
  ],
  [
    'caseSensitivePaths as a string',
    policy({ caseSensitivePaths: 'yes' }),
    ['caseSensitivePaths: Invalid input: expected boolean, received string'],
  ],
  // response
  [
    'an unknown header family',
    policy({ response: { headers: ['draft-7'] } }),
    [
      'response.headers[0]: Invalid option: expected one of "ietf"|"ratelimit"|"ratelimit-policy"|"x-ratelimit"|"x-ratelimit-limit"|"x-ratelimit-remaining"|"x-ratelimit-reset"|"x-ratelimit-count"|"x-ratelimit-window"|"x-ratelimit-interval"',
    ],
  ],
  [
    'an unknown headersOn',
    policy({ response: { headersOn: 'sometimes' } }),
    ['response.headersOn: Invalid option: expected one of "always"|"limited"'],
  ],
  [
    'an unknown body format',
    policy({ response: { body: 'html' } }),
    ['response.body: Invalid option: expected one of "detail"|"jsonapi"|"problem"|"text"'],
  ],
  [
    'a message over 1000 characters',
    policy({ response: { message: 'm'.repeat(1001) } }),
    ['response.message: Too big: expected string to have <=1000 characters'],
  ],
  [
    'a title over 200 characters',
    policy({ response: { title: 't'.repeat(201) } }),
    ['response.title: Too big: expected string to have <=200 characters'],
  ],
  [
    'a code over 100 characters',
    policy({ response: { code: 'c'.repeat(101) } }),
    ['response.code: Too big: expected string to have <=100 characters'],
  ],
  [
    'a blockedMessage over 1000 characters',
    policy({ response: { blockedMessage: 'b'.repeat(1001) } }),
    ['response.blockedMessage: Too big: expected string to have <=1000 characters'],
  ],
  ['an unknown response field', policy({ response: { status: 503 } }), ['response: unknown field(s) "status"']],
  // onError
  ['an unknown onError mode', policy({ onError: { mode: 'retry' } }), ['onError.mode: Invalid option: expected one of "open"|"closed"']],
  ['timeoutMs 0', policy({ onError: { timeoutMs: 0 } }), ['onError.timeoutMs: Too small: expected number to be >=1']],
  ['timeoutMs 30001', policy({ onError: { timeoutMs: 30_001 } }), ['onError.timeoutMs: Too big: expected number to be <=30000']],
  ['a fractional timeoutMs', policy({ onError: { timeoutMs: 1.5 } }), ['onError.timeoutMs: Invalid input: expected int, received number']],
  ['an unknown onError field', policy({ onError: { retries: 3 } }), ['onError: unknown field(s) "retries"']],
  // rules
  [
    'a rule without a name',
    policy({}, [{ key: 'ip', limits: [{ limit: 1, window: '1m' }] }]),
    ['rules[0].name: Invalid input: expected string, received undefined'],
  ],
  [
    'a rule name with a slash',
    withRule({ name: 'a/b' }),
    ['rules[0] "a/b".name: names use letters, digits, "_", "." and "-" (at most 64)'],
  ],
  ['duplicate rule names', policy({}, [rule(), rule()]), ['rules[1] "r".name: duplicate rule name "r"']],
  ['an unknown rule field', withRule({ limit: 5 }), ['rules[0] "r": unknown field(s) "limit"']],
  ['a rule without limits or backoff', withRule({ limits: [] }), ['rules[0] "r".limits: a rule needs at least one limit or a backoff']],
  [
    'a rule without a key',
    policy({}, [{ name: 'r', limits: [{ limit: 1, window: '1m' }] }]),
    [
      'rules[0] "r".key: a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
    ],
  ],
  [
    'countRefused as a string',
    withRule({ countRefused: 'true' }),
    ['rules[0] "r".countRefused: Invalid input: expected boolean, received string'],
  ],
  ['shadow as a number', withRule({ shadow: 1 }), ['rules[0] "r".shadow: Invalid input: expected boolean, received number']],
  [
    'a rule onError with an unknown mode',
    withRule({ onError: { mode: 'half-open' } }),
    ['rules[0] "r".onError.mode: Invalid option: expected one of "open"|"closed"'],
  ],
  // keys
  [
    'an unknown key part',
    withRule({ key: 'user' }),
    [
      'rules[0] "r".key: a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
    ],
  ],
  [
    'a header key with a space',
    withRule({ key: { header: 'X API Key' } }),
    ['rules[0] "r".key.header: header names use letters, digits and "-"'],
  ],
  [
    'an unknown cf field',
    withRule({ key: { cf: 'botScore' } }),
    [
      'rules[0] "r".key: a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
    ],
  ],
  [
    'an unknown identity key field',
    withRule({ key: { identity: 'email' } }),
    [
      'rules[0] "r".key: a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
    ],
  ],
  ['an empty const key', withRule({ key: { const: '' } }), ['rules[0] "r".key.const: Too small: expected string to have >=1 characters']],
  [
    'a const key over 128 characters',
    withRule({ key: { const: 'k'.repeat(129) } }),
    ['rules[0] "r".key.const: Too big: expected string to have <=128 characters'],
  ],
  [
    'a key object with two parts',
    withRule({ key: { header: 'X-A', cf: 'country' } }),
    [
      'rules[0] "r".key: a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
    ],
  ],
  ['an empty composite key', withRule({ key: [] }), ['rules[0] "r".key: Too small: expected array to have >=1 items']],
  [
    'a composite key of 9 parts',
    withRule({ key: Array(9).fill('ip') }),
    [
      'rules[0] "r".key: a key is one key part or a list of 1 to 8: "ip", "bearer", "basic-user", "authorization", "method", "path", { header }, { cf }, { identity }, { const }',
    ],
  ],
  [
    'an identity key without an identity section',
    withRule({ key: { identity: 'tier' } }),
    ['rules[0] "r".key: uses identity or tiers, but the policy has no "identity" section'],
  ],
  // match
  [
    'an empty method list',
    withRule({ match: { methods: [] } }),
    ['rules[0] "r".match.methods: Too small: expected array to have >=1 items'],
  ],
  [
    'a method with a space',
    withRule({ match: { methods: ['GET POST'] } }),
    ['rules[0] "r".match.methods[0]: methods are words such as GET or POST'],
  ],
  ['an empty host list', withRule({ match: { hosts: [] } }), ['rules[0] "r".match.hosts: Too small: expected array to have >=1 items']],
  [
    'an empty host',
    withRule({ match: { hosts: [''] } }),
    ['rules[0] "r".match.hosts[0]: Too small: expected string to have >=1 characters'],
  ],
  ['an empty path list', withRule({ match: { paths: [] } }), ['rules[0] "r".match.paths: Too small: expected array to have >=1 items']],
  [
    'a path without a leading slash',
    withRule({ match: { paths: ['admin/*'] } }),
    ['rules[0] "r".match.paths[0]: path patterns start with "/" or are "*"'],
  ],
  [
    'an excepted path without a leading slash',
    withRule({ match: { exceptPaths: ['info/*'] } }),
    ['rules[0] "r".match.exceptPaths[0]: path patterns start with "/" or are "*"'],
  ],
  [
    'a format suffix inside a path',
    withRule({ match: { paths: ['/gems(.:format)/owners'] } }),
    ['rules[0] "r".match.paths[0]: a format suffix is "(.:format)" or "(.json|yaml)", at the end of the pattern'],
  ],
  [
    'a format suffix after a wildcard',
    withRule({ match: { exceptPaths: ['/info/*(.:format)'] } }),
    ['rules[0] "r".match.exceptPaths[0]: a format suffix follows a segment: "/x(.:format)", "/x/:id(.:format)"'],
  ],
  [
    'an empty tier list',
    policy({ identity: { credential: 'bearer' } }, [rule({ match: { tiers: [] } })]),
    ['rules[0] "r".match.tiers: Too small: expected array to have >=1 items'],
  ],
  [
    'an empty tier name',
    policy({ identity: { credential: 'bearer' } }, [rule({ match: { tiers: [''] } })]),
    ['rules[0] "r".match.tiers[0]: Too small: expected string to have >=1 characters'],
  ],
  [
    'tiers without an identity section',
    withRule({ match: { tiers: ['pro'] } }),
    ['rules[0] "r".key: uses identity or tiers, but the policy has no "identity" section'],
  ],
  ['an unknown match field', withRule({ match: { query: 'x' } }), ['rules[0] "r".match: unknown field(s) "query"']],
  // limits
  [
    'a limit without a window',
    policy({}, [rule({ limits: [{ limit: 10 }] })]),
    [
      'rules[0] "r".limits[0].window: required: a window (use a number of milliseconds or text such as "30s", "5m", "25h") or a calendar period ("day", "week", "month", "year")',
    ],
  ],
  [
    'a limit with a window and a period',
    withLimit({ period: 'month' }),
    ['rules[0] "r".limits[0].period: give a window or a period, not both'],
  ],
  [
    'an unknown period',
    withRule({ limits: [{ limit: 10, period: 'fortnight' }] }),
    ['rules[0] "r".limits[0].period: period is "day", "week", "month" or "year", or { unit, anchor?, timeZone? }'],
  ],
  [
    'a period anchor that is no date',
    withRule({ limits: [{ limit: 10, period: { unit: 'month', anchor: '2026-02-30' } }] }),
    ['rules[0] "r".limits[0].period.anchor: 2026-02-30 is not a calendar date'],
  ],
  [
    'a period in an unknown time zone',
    withRule({ limits: [{ limit: 10, period: { unit: 'month', timeZone: 'Mars/Olympus_Mons' } }] }),
    ['rules[0] "r".limits[0].period.timeZone: unknown time zone: use an IANA name such as "UTC" or "Europe/Berlin"'],
  ],
  [
    'a period counted by gcra',
    withRule({ limits: [{ limit: 10, period: 'day', algorithm: 'gcra' }] }),
    ['rules[0] "r".limits[0].algorithm: calendar periods are counted by the fixed-window algorithm'],
  ],
  [
    'two limits of one period unit',
    withRule({
      limits: [
        { limit: 10, period: 'day' },
        { limit: 20, period: { unit: 'day', timeZone: 'Europe/Berlin' } },
      ],
    }),
    ['rules[0] "r".limits[1].name: duplicate limit name "day"'],
  ],
  [
    'a threshold above 100 %',
    withLimit({ notify: [80, 120] }),
    ['rules[0] "r".limits[0].notify[1]: thresholds are percentages from 1 to 100'],
  ],
  ['a threshold named twice', withLimit({ notify: [80, 80] }), ['rules[0] "r".limits[0].notify: a threshold is named twice']],
  [
    'thresholds on a gcra limit',
    withLimit({ algorithm: 'gcra', notify: [80] }),
    ['rules[0] "r".limits[0].notify: notify thresholds apply to fixed-window limits (windows or calendar periods)'],
  ],
  [
    'a lease on a calendar period',
    withRule({ limits: [{ limit: 10, period: 'month' }], lease: { size: 5 } }),
    ['rules[0] "r".lease: leases cannot be combined with calendar periods: a lease spends units by the window, not the period'],
  ],
  [
    'a limit without a limit',
    policy({}, [rule({ limits: [{ window: '1m' }] })]),
    ['rules[0] "r".limits[0].limit: Invalid input: expected number, received undefined'],
  ],
  ['a negative limit', withLimit({ limit: -1 }), ['rules[0] "r".limits[0].limit: Too small: expected number to be >=0']],
  ['a fractional limit', withLimit({ limit: 1.5 }), ['rules[0] "r".limits[0].limit: Invalid input: expected int, received number']],
  ['a limit above 1e12', withLimit({ limit: 1e13 }), ['rules[0] "r".limits[0].limit: Too big: expected number to be <=1000000000000']],
  ['a limit as a string', withLimit({ limit: '10' }), ['rules[0] "r".limits[0].limit: Invalid input: expected number, received string']],
  [
    'an unknown algorithm',
    withLimit({ algorithm: 'leaky-bucket' }),
    ['rules[0] "r".limits[0].algorithm: Invalid option: expected one of "fixed-window"|"sliding-window"|"gcra"|"concurrency"'],
  ],
  [
    'a window in words',
    withLimit({ window: '5 minutes' }),
    ['rules[0] "r".limits[0].window: invalid duration "5 minutes": use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a window with an unknown unit',
    withLimit({ window: '1w' }),
    ['rules[0] "r".limits[0].window: invalid duration "1w": use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a negative window',
    withLimit({ window: -1000 }),
    ['rules[0] "r".limits[0].window: invalid duration -1000: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a zero window',
    withLimit({ window: 0 }),
    ['rules[0] "r".limits[0].window: invalid duration 0: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a fractional millisecond window',
    withLimit({ window: 1000.5 }),
    ['rules[0] "r".limits[0].window: invalid duration 1000.5: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  ['a window under 1s', withLimit({ window: '500ms' }), ['rules[0] "r".limits[0].window: window must be between 1s and 366d']],
  ['a window over 366d', withLimit({ window: '367d' }), ['rules[0] "r".limits[0].window: window must be between 1s and 366d']],
  [
    'a window that is not a number or text',
    withLimit({ window: { minutes: 1 } }),
    ['rules[0] "r".limits[0].window: invalid duration: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  ['burst on a fixed window', withLimit({ burst: 5 }), ['rules[0] "r".limits[0].burst: burst applies to the gcra algorithm only']],
  [
    'a gcra limit of 0',
    withLimit({ algorithm: 'gcra', limit: 0 }),
    ['rules[0] "r".limits[0].limit: a gcra limit of 0 has no rate: use a fixed-window limit of 0 to refuse every request'],
  ],
  ['burst 0', withLimit({ algorithm: 'gcra', burst: 0 }), ['rules[0] "r".limits[0].burst: Too small: expected number to be >=1']],
  [
    'burst above 1e12',
    withLimit({ algorithm: 'gcra', burst: 1e13 }),
    ['rules[0] "r".limits[0].burst: Too big: expected number to be <=1000000000000'],
  ],
  [
    'a limit name with a space',
    withLimit({ name: 'per minute' }),
    ['rules[0] "r".limits[0] "per minute".name: names use letters, digits, "_", "." and "-" (at most 64)'],
  ],
  [
    'duplicate limit names',
    withRule({
      limits: [
        { name: 'a', limit: 1, window: '1m' },
        { name: 'a', limit: 2, window: '1h' },
      ],
    }),
    ['rules[0] "r".limits[1] "a".name: duplicate limit name "a"'],
  ],
  [
    'two unnamed limits with one window',
    withRule({
      limits: [
        { limit: 10, window: '1m' },
        { algorithm: 'gcra', limit: 5, window: 60_000 },
      ],
    }),
    ['rules[0] "r".limits[1].name: another limit is already named "1m" after its window: give these limits distinct names'],
  ],
  [
    'a limit named like its neighbour`s window',
    withRule({
      limits: [
        { limit: 10, window: '1m' },
        { name: '1m', limit: 5, window: '1h' },
      ],
    }),
    ['rules[0] "r".limits[1] "1m".name: duplicate limit name "1m"'],
  ],
  [
    'a limit named like a backoff level',
    withRule({ limits: [{ name: 'backoff-2', limit: 10, window: '1m' }], backoff: { limit: 1, period: '1m', levels: 2 } }),
    ['rules[0] "r".backoff.name: a limit is named "backoff-2", the name of backoff level 2'],
  ],
  ['an unknown limit field', withLimit({ per: 'minute' }), ['rules[0] "r".limits[0]: unknown field(s) "per"']],
  // countWhen
  [
    'an empty countWhen status list',
    withLimit({ countWhen: { status: [] } }),
    ['rules[0] "r".limits[0].countWhen.status: Too small: expected array to have >=1 items'],
  ],
  [
    'a countWhen status of 99',
    withLimit({ countWhen: { status: [99] } }),
    ['rules[0] "r".limits[0].countWhen.status[0]: Too small: expected number to be >=100'],
  ],
  [
    'a countWhen status of 600',
    withLimit({ countWhen: { status: [600] } }),
    ['rules[0] "r".limits[0].countWhen.status[0]: Too big: expected number to be <=599'],
  ],
  [
    'a countWhen class "6xx"',
    withLimit({ countWhen: { status: ['6xx'] } }),
    ['rules[0] "r".limits[0].countWhen.status[0]: status must be a code such as 201 or a class such as "2xx"'],
  ],
  [
    'a countWhen class "20x"',
    withLimit({ countWhen: { status: ['20x'] } }),
    ['rules[0] "r".limits[0].countWhen.status[0]: status must be a code such as 201 or a class such as "2xx"'],
  ],
  [
    'an unknown countWhen field',
    withLimit({ countWhen: { status: [200], methods: ['GET'] } }),
    ['rules[0] "r".limits[0].countWhen: unknown field(s) "methods"'],
  ],
  // backoff
  [
    'a backoff limit of 0',
    withRule({ limits: [], backoff: { limit: 0, period: '1m', levels: 2 } }),
    ['rules[0] "r".backoff.limit: Too small: expected number to be >=1'],
  ],
  [
    'a backoff period not in whole seconds',
    withRule({ limits: [], backoff: { limit: 1, period: 1500, levels: 2 } }),
    ['rules[0] "r".backoff.period: backoff period must be whole seconds'],
  ],
  [
    'a backoff period under 1s',
    withRule({ limits: [], backoff: { limit: 1, period: '500ms', levels: 2 } }),
    [
      'rules[0] "r".backoff.period: window must be between 1s and 366d',
      'rules[0] "r".backoff.period: backoff period must be whole seconds',
    ],
  ],
  [
    'backoff levels 0',
    withRule({ limits: [], backoff: { limit: 1, period: '1m', levels: 0 } }),
    ['rules[0] "r".backoff.levels: Too small: expected number to be >=1'],
  ],
  [
    'backoff levels 5',
    withRule({ limits: [], backoff: { limit: 1, period: '1m', levels: 5 } }),
    ['rules[0] "r".backoff.levels: Too big: expected number to be <=4'],
  ],
  [
    'an unknown backoff field',
    withRule({ limits: [], backoff: { limit: 1, period: '1m', levels: 2, factor: 2 } }),
    ['rules[0] "r".backoff: unknown field(s) "factor"'],
  ],
  // cost
  ['a negative cost', withRule({ cost: -1 }), ['rules[0] "r".cost: Too small: expected number to be >=0']],
  ['a cost above 1e9', withRule({ cost: 2e9 }), ['rules[0] "r".cost: Too big: expected number to be <=1000000000']],
  [
    'a cost header with a space',
    withRule({ cost: { header: 'X Cost', max: 10 } }),
    ['rules[0] "r".cost.header: Invalid string: must match pattern /^[A-Za-z0-9-]+$/'],
  ],
  [
    'a cost header without max',
    withRule({ cost: { header: 'X-Cost' } }),
    ['rules[0] "r".cost: cost is a whole number, or { header, max, default }'],
  ],
  ['a cost max of 0', withRule({ cost: { header: 'X-Cost', max: 0 } }), ['rules[0] "r".cost.max: Too small: expected number to be >=1']],
  [
    'a negative cost default',
    withRule({ cost: { header: 'X-Cost', max: 10, default: -1 } }),
    ['rules[0] "r".cost.default: Too small: expected number to be >=0'],
  ],
  // responseCost
  [
    'a responseCost without a header',
    withRule({ responseCost: { max: 100 } }),
    ['rules[0] "r".responseCost.header: required: the name of the response header that carries the cost, e.g. "X-Cost"'],
  ],
  [
    'a responseCost header with a colon',
    withRule({ responseCost: { header: 'X-Cost:', max: 100 } }),
    ['rules[0] "r".responseCost.header: header names use letters, digits and "-" (at most 64)'],
  ],
  [
    'a responseCost header the limiter sets itself',
    withRule({ responseCost: { header: 'RateLimit', max: 100 } }),
    [
      'rules[0] "r".responseCost.header: the cost header cannot be a header the limiter sets itself (Retry-After, Content-Type, Cache-Control, RateLimit, RateLimit-Policy, X-RateLimit-*)',
    ],
  ],
  [
    'a responseCost without max',
    withRule({ responseCost: { header: 'X-Cost' } }),
    ['rules[0] "r".responseCost.max: required: the most units one response may charge, a whole number from 1 to 1e9'],
  ],
  [
    'a responseCost max of 0',
    withRule({ responseCost: { header: 'X-Cost', max: 0 } }),
    ['rules[0] "r".responseCost.max: Too small: expected number to be >=1'],
  ],
  [
    'a responseCost max of 2.5',
    withRule({ responseCost: { header: 'X-Cost', max: 2.5 } }),
    ['rules[0] "r".responseCost.max: Invalid input: expected int, received number'],
  ],
  [
    'a responseCost max above 1e9',
    withRule({ responseCost: { header: 'X-Cost', max: 2e9 } }),
    ['rules[0] "r".responseCost.max: Too big: expected number to be <=1000000000'],
  ],
  [
    'a responseCost keep that is not a boolean',
    withRule({ responseCost: { header: 'X-Cost', max: 100, keep: 'yes' } }),
    ['rules[0] "r".responseCost.keep: Invalid input: expected boolean, received string'],
  ],
  [
    'an unknown responseCost field',
    withRule({ responseCost: { header: 'X-Cost', max: 100, default: 1 } }),
    ['rules[0] "r".responseCost: unknown field(s) "default"'],
  ],
  [
    'a responseCost max below the advance cost',
    withRule({ cost: 5, responseCost: { header: 'X-Cost', max: 4 } }),
    ['rules[0] "r".responseCost.max: max (4) is below the rule\'s advance cost (5): no response could report what was admitted'],
  ],
  [
    "a responseCost max below a header cost's default",
    withRule({ cost: { header: 'X-Batch', max: 50, default: 10 }, responseCost: { header: 'X-Cost', max: 9 } }),
    ['rules[0] "r".responseCost.max: max (9) is below the rule\'s advance cost (10): no response could report what was admitted'],
  ],
  [
    'two rules reading one cost header, one keeping it',
    policy({}, [
      rule({ name: 'a', responseCost: { header: 'X-Cost', max: 100 } }),
      rule({ name: 'b', responseCost: { header: 'x-cost', max: 100, keep: true } }),
    ]),
    ['rules[1] "b".responseCost.keep: rule "a" reads the same header with keep false: rules reading one header agree on keeping it'],
  ],
  // ban
  [
    'a ban after 0 refusals',
    withRule({ ban: { after: 0, within: '1m', duration: '1h' } }),
    ['rules[0] "r".ban.after: Too small: expected number to be >=1'],
  ],
  [
    'a ban within in words',
    withRule({ ban: { after: 3, within: 'a minute', duration: '1h' } }),
    ['rules[0] "r".ban.within: invalid duration "a minute": use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a ban duration of 0',
    withRule({ ban: { after: 3, within: '1m', duration: 0 } }),
    ['rules[0] "r".ban.duration: invalid duration 0: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a ban status of 500',
    withRule({ ban: { after: 3, within: '1m', duration: '1h', status: 500 } }),
    ['rules[0] "r".ban.status: ban status is 403 or 429'],
  ],
  [
    'a ban without duration',
    withRule({ ban: { after: 3, within: '1m' } }),
    ['rules[0] "r".ban.duration: required: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  // per-rule response
  [
    'an unknown per-rule response field',
    withRule({ response: { headers: ['ietf'] } }),
    ['rules[0] "r".response: unknown field(s) "headers"'],
  ],
  [
    'a per-rule body format that does not exist',
    withRule({ response: { body: 'xml' } }),
    ['rules[0] "r".response.body: Invalid option: expected one of "detail"|"jsonapi"|"problem"|"text"'],
  ],
  // lease
  ['a lease size of 0', withRule({ lease: { size: 0 } }), ['rules[0] "r".lease.size: Too small: expected number to be >=1']],
  ['a lease ttl over 60s', withRule({ lease: { size: 10, ttl: '2m' } }), ['rules[0] "r".lease.ttl: lease ttl must be at most 60s']],
  [
    'a lease on a gcra limit',
    withRule({ lease: { size: 10 }, limits: [{ algorithm: 'gcra', limit: 10, window: '1m' }] }),
    [
      'rules[0] "r".lease: leases need fixed-window or sliding-window limits: a gcra bucket refills continuously, so budget spent after it was granted could exceed its burst',
    ],
  ],
  [
    'a lease with countWhen',
    withRule({ lease: { size: 10 }, limits: [{ limit: 10, window: '1m', countWhen: { status: [200] } }] }),
    ['rules[0] "r".lease: leases cannot be combined with countWhen: outcome-counted limits need the object to see every response'],
  ],
  [
    'a lease with countRefused',
    withRule({ lease: { size: 10 }, countRefused: true }),
    ['rules[0] "r".lease: leases cannot be combined with countRefused: refusals must reach the object to count'],
  ],
  ['a lease with shadow', withRule({ lease: { size: 10 }, shadow: true }), ['rules[0] "r".lease: leases cannot be combined with shadow']],
  [
    'a lease with a ban',
    withRule({ lease: { size: 10 }, ban: { after: 3, within: '1m', duration: '1h' } }),
    ['rules[0] "r".lease: leases cannot be combined with ban: refusals must reach the object to count toward the ban'],
  ],
  ['an unknown lease field', withRule({ lease: { size: 10, renew: true } }), ['rules[0] "r".lease: unknown field(s) "renew"']],
  // countResponses
  [
    'an empty countResponses status list',
    withRule({ countResponses: { status: [] } }),
    ['rules[0] "r".countResponses.status: Too small: expected array to have >=1 items'],
  ],
  [
    'a countResponses status of 600',
    withRule({ countResponses: { status: [600] } }),
    ['rules[0] "r".countResponses.status[0]: Too big: expected number to be <=599'],
  ],
  [
    'countResponses with countWhen',
    withRule({ countResponses: { status: [401] }, limits: [{ limit: 10, window: '1m', countWhen: { status: [200] } }] }),
    ['rules[0] "r".countResponses: countResponses cannot be combined with countWhen: the rule already counts responses only'],
  ],
  [
    'countResponses with countRefused',
    withRule({ countResponses: { status: [401] }, countRefused: true }),
    [
      'rules[0] "r".countResponses: countResponses cannot be combined with countRefused: a refused request never reaches the origin, so it has no response to count',
    ],
  ],
  [
    'countResponses with a lease',
    withRule({ countResponses: { status: [401] }, lease: { size: 10 } }),
    ['rules[0] "r".countResponses: countResponses cannot be combined with lease: every counted response must reach the object'],
  ],
  // smooth
  [
    'smooth without maxQueued',
    withRule({ limits: [paced], smooth: { maxWait: '500ms' } }),
    ['rules[0] "r".smooth.maxQueued: Invalid input: expected number, received undefined'],
  ],
  [
    'smooth without maxWait',
    withRule({ limits: [paced], smooth: { maxQueued: 10 } }),
    ['rules[0] "r".smooth.maxWait: required: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a smooth maxWait over 10s',
    withRule({ limits: [paced], smooth: { maxWait: '11s', maxQueued: 10 } }),
    ['rules[0] "r".smooth.maxWait: smooth maxWait must be at most 10s'],
  ],
  [
    'a smooth maxWait of 0',
    withRule({ limits: [paced], smooth: { maxWait: 0, maxQueued: 10 } }),
    ['rules[0] "r".smooth.maxWait: invalid duration 0: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  [
    'a smooth maxQueued of 0',
    withRule({ limits: [paced], smooth: { maxWait: '500ms', maxQueued: 0 } }),
    ['rules[0] "r".smooth.maxQueued: Too small: expected number to be >=1'],
  ],
  [
    'a smooth maxQueued over 1000',
    withRule({ limits: [paced], smooth: { maxWait: '500ms', maxQueued: 1001 } }),
    ['rules[0] "r".smooth.maxQueued: Too big: expected number to be <=1000'],
  ],
  [
    'an unknown smooth field',
    withRule({ limits: [paced], smooth: { maxWait: '500ms', maxQueued: 10, jitter: true } }),
    ['rules[0] "r".smooth: unknown field(s) "jitter"'],
  ],
  [
    'smooth on a window limit',
    withRule({ smooth: { maxWait: '500ms', maxQueued: 10 } }),
    [
      'rules[0] "r".smooth: smooth needs gcra limits: a fixed-window limit cannot say when a request would fit without counting it in a window it has not reached',
    ],
  ],
  [
    'smooth with a sliding-window backoff',
    withRule({
      limits: [paced],
      backoff: { algorithm: 'sliding-window', limit: 5, period: '1s', levels: 2 },
      smooth: { maxWait: '1s', maxQueued: 1 },
    }),
    [
      'rules[0] "r".smooth: smooth needs gcra limits: a sliding-window limit cannot say when a request would fit without counting it in a window it has not reached',
    ],
  ],
  [
    'smooth with shadow',
    withRule({ limits: [paced], shadow: true, smooth: { maxWait: '500ms', maxQueued: 10 } }),
    ['rules[0] "r".smooth: smooth cannot be combined with shadow: a shadow rule never refuses, so it has nothing to hold'],
  ],
  [
    'smooth with countResponses',
    withRule({ limits: [paced], countResponses: { status: [401] }, smooth: { maxWait: '500ms', maxQueued: 10 } }),
    [
      'rules[0] "r".smooth: smooth cannot be combined with countResponses: the rule counts responses after the fact, so there is no place to reserve',
    ],
  ],
  [
    'smooth with a lease',
    withRule({ lease: { size: 10 }, smooth: { maxWait: '500ms', maxQueued: 10 } }),
    [
      'rules[0] "r".smooth: smooth needs gcra limits: a fixed-window limit cannot say when a request would fit without counting it in a window it has not reached',
      'rules[0] "r".smooth: smooth cannot be combined with lease: a wait is reserved in the key\'s object, which a lease bypasses',
    ],
  ],
  // quota
  [
    'a quota perAddress limit of 0',
    policy({ quota: { perAddress: { limit: 0, window: '1m' } } }),
    ['quota.perAddress.limit: Too small: expected number to be >=1'],
  ],
  [
    'a quota perAddress without a window',
    policy({ quota: { perAddress: { limit: 10 } } }),
    ['quota.perAddress.window: required: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
  // allow / block lists
  [
    'an address that is not one',
    policy({ block: { ips: ['10.0.0.300'] } }),
    ['block.ips[0]: "10.0.0.300" is not an IP address or CIDR range'],
  ],
  [
    'a CIDR with a bad prefix',
    policy({ allow: { ips: ['10.0.0.0/33'] } }),
    ['allow.ips[0]: "10.0.0.0/33" is not an IP address or CIDR range'],
  ],
  [
    'a country in lower case',
    policy({ block: { countries: ['de'] } }),
    ['block.countries[0]: countries are ISO 3166 alpha-2 codes such as "DE"'],
  ],
  [
    'a three-letter country',
    policy({ block: { countries: ['DEU'] } }),
    ['block.countries[0]: countries are ISO 3166 alpha-2 codes such as "DE"'],
  ],
  ['a negative ASN', policy({ block: { asns: [-1] } }), ['block.asns[0]: Too small: expected number to be >=0']],
  [
    'a raw credential in a list',
    policy({ block: { credentials: ['sk_live_123'] } }),
    ['block.credentials[0]: credentials are listed by their SHA-256 hex digest'],
  ],
  [
    'an upper-case credential digest',
    policy({ allow: { credentials: ['A'.repeat(64)] } }),
    ['allow.credentials[0]: credentials are listed by their SHA-256 hex digest'],
  ],
  ['an unknown list field', policy({ allow: { users: ['alice'] } }), ['allow: unknown field(s) "users"']],
  // identity
  [
    'an unknown credential source',
    identity({ credential: 'cookie' }),
    ['identity.credential: credential is "bearer", "basic-user", "authorization" or { header }'],
  ],
  [
    'a credential header with a space',
    identity({ credential: { header: 'X Key' } }),
    ['identity.credential.header: Invalid string: must match pattern /^[A-Za-z0-9-]+$/'],
  ],
  [
    'a prefix entry with neither prefix nor pattern',
    identity({ prefixes: [{ tier: 'pro' }] }),
    ['identity.prefixes[0]: give exactly one of prefix and pattern'],
  ],
  [
    'a prefix entry with both prefix and pattern',
    identity({ prefixes: [{ prefix: 'pk_', pattern: '^pk_', tier: 'pro' }] }),
    ['identity.prefixes[0]: give exactly one of prefix and pattern'],
  ],
  [
    'a prefix entry without a tier',
    identity({ prefixes: [{ prefix: 'pk_' }] }),
    ['identity.prefixes[0].tier: Invalid input: expected string, received undefined'],
  ],
  [
    'a pattern that is not a regular expression',
    identity({ prefixes: [{ pattern: '(unclosed', tier: 'pro' }] }),
    ['identity.prefixes[0].pattern: "(unclosed" is not a valid regular expression'],
  ],
  ['a JWT with neither secret nor JWKS', identity({ jwt: {} }), ['identity.jwt: give exactly one of secretBinding and jwksUrl']],
  [
    'a JWT with both secret and JWKS',
    identity({ jwt: { secretBinding: 'JWT_SECRET', jwksUrl: 'https://issuer.example/jwks.json' } }),
    ['identity.jwt: give exactly one of secretBinding and jwksUrl'],
  ],
  [
    'a JWT secret binding in lower case',
    identity({ jwt: { secretBinding: 'jwt_secret' } }),
    ['identity.jwt.secretBinding: Invalid string: must match pattern /^[A-Z][A-Z0-9_]*$/'],
  ],
  ['a JWKS URL that is not a URL', identity({ jwt: { jwksUrl: 'issuer.example/jwks' } }), ['identity.jwt.jwksUrl: Invalid URL']],
  [
    'a JWT algorithm not offered',
    identity({ jwt: { secretBinding: 'S', algorithms: ['none'] } }),
    ['identity.jwt.algorithms[0]: Invalid option: expected one of "HS256"|"HS384"|"HS512"|"RS256"|"ES256"|"EdDSA"'],
  ],
  [
    'an empty JWT algorithm list',
    identity({ jwt: { secretBinding: 'S', algorithms: [] } }),
    ['identity.jwt.algorithms: Too small: expected array to have >=1 items'],
  ],
  ['an empty default tier', identity({ defaultTier: '' }), ['identity.defaultTier: Too small: expected string to have >=1 characters']],
  ['an unknown identity field', identity({ cache: true }), ['identity: unknown field(s) "cache"']],
  [
    'a key with a bad header and no identity section',
    withRule({ key: { header: 'X Y' }, match: { tiers: ['pro'] } }),
    [
      'rules[0] "r".key.header: header names use letters, digits and "-"',
      'rules[0] "r".key: uses identity or tiers, but the policy has no "identity" section',
    ],
  ],
  ['a rule that is not an object', policy({}, ['per-ip']), ['rules[0]: Invalid input: expected object, received string']],
  [
    'a ban without within',
    withRule({ ban: { after: 3, duration: '1h' } }),
    ['rules[0] "r".ban.within: required: use a number of milliseconds or text such as "30s", "5m", "25h"'],
  ],
];

describe('policy validation', () => {
  it('accepts the smallest valid policy the fixtures are built from', () => {
    expect(parsePolicy(policy(), 'fixture').rules[0]!.name).toBe('r');
  });

  it.each(REJECTED)('rejects %s, naming the field and what is wrong', (_, input, issues) => {
    const error = policyErrorOf(input, 'fixture');
    expect(error).toBeInstanceOf(PolicyError);
    expect(error!.issues).toEqual(issues);
    expect(error!.message).toBe(`invalid policy fixture:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  });
});

describe('smooth', () => {
  it('parses its wait to milliseconds, and a parsed policy parses again unchanged', () => {
    const once = parsePolicy(withRule({ limits: [paced], smooth: { maxWait: '500ms', maxQueued: 10 } }));
    expect(once.rules[0]!.smooth).toEqual({ maxWait: 500, maxQueued: 10 });
    expect(parsePolicy(once)).toEqual(once);
  });

  it('takes gcra backoff levels beside gcra limits', () => {
    const parsed = parsePolicy(
      withRule({
        limits: [paced],
        backoff: { algorithm: 'gcra', limit: 5, period: '1s', levels: 2 },
        smooth: { maxWait: '1s', maxQueued: 1 },
      }),
    );
    expect(parsed.rules[0]!.smooth).toEqual({ maxWait: 1000, maxQueued: 1 });
  });
});

describe('calendar-period limits', () => {
  it('parse to fixed windows named after their unit, and a parsed policy parses again unchanged', () => {
    const once = parsePolicy({
      name: 'p',
      rules: [
        {
          name: 'r',
          key: 'ip',
          limits: [{ limit: 100, period: { unit: 'month', anchor: '2026-03-17', timeZone: 'Europe/Berlin' }, notify: [80, 100] }],
        },
      ],
    });
    expect(once.rules[0]!.limits[0]).toEqual({
      name: 'month',
      algorithm: 'fixed-window',
      limit: 100,
      window: 30 * 86_400_000,
      period: { unit: 'month', anchor: '2026-03-17', timeZone: 'Europe/Berlin' },
      notify: [80, 100],
    });
    expect(parsePolicy(once)).toEqual(once);
  });
});
