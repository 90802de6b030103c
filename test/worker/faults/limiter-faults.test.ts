import { afterEach, describe, expect, it } from 'vitest';
import type { KeyDecision, KeyRequest } from '../../../src/algorithms/decide';
import type { PolicyInput } from '../../../src/policy/schema';
import { admitAll, captureLogs, fakeLimiter, freshIp, from, refuseAll, testApp } from './harness';

function perIp(mode: 'open' | 'closed', timeoutMs = 20): PolicyInput {
  return { name: 'faults', rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 5, window: '1m' }], onError: { mode, timeoutMs } }] };
}

function overloadedError(): Error {
  return Object.assign(new Error('Durable Object is overloaded. Requests queued for too long.'), { overloaded: true, retryable: false });
}

/** Every way the key's object can fail, as the stub's answer to `check`. */
const FAULTS: Array<[string, () => KeyDecision | Promise<KeyDecision>, RegExp]> = [
  [
    'throws synchronously',
    () => {
      throw new Error('boom');
    },
    /boom/,
  ],
  ['rejects with an Error', () => Promise.reject(new Error('storage unavailable')), /storage unavailable/],
  ['rejects with a string', () => Promise.reject('internal error; reference = abc'), /reference = abc/],
  ['rejects with undefined', () => Promise.reject(undefined), /undefined/],
  ['is overloaded', () => Promise.reject(overloadedError()), /^overloaded$/],
  ['never answers', () => new Promise<KeyDecision>(() => {}), /no answer within 20 ms/],
  ['answers nothing', () => undefined as unknown as KeyDecision, /malformed answer/],
  ['answers a malformed record', () => ({ allowed: true }) as unknown as KeyDecision, /malformed answer/],
  ['answers with outcomes that do not match the limits asked', () => ({ allowed: false, outcomes: [] }), /malformed answer/],
  ['answers a packed decision for fewer limits than asked', () => [1] as unknown as KeyDecision, /malformed answer/],
  [
    'answers a packed decision with text where a count goes',
    () => [1, 1, 5, 'four', 1, 0, 0, 1] as unknown as KeyDecision,
    /malformed answer/,
  ],
];

/** Both forms of the call: the readable `check` and the compact `checkPacked` the real object takes. */
const FORMS = [
  ['check', false],
  ['checkPacked', true],
] as const;

let logs: ReturnType<typeof captureLogs>;
afterEach(() => logs?.restore());

describe.each(FORMS)('a fail-open rule whose key object fails (%s)', (_form, packed) => {
  it.each(FAULTS)('lets the request through when the object %s, and logs and counts it', async (_, fault, error) => {
    logs = captureLogs();
    const fake = fakeLimiter(() => fault(), undefined, { packed });
    const app = testApp(perIp('open'), { bindings: { RATE_LIMITER: fake.namespace } });
    const response = await app.request('/orders', from(freshIp()));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('origin ok');
    expect(app.originCalls).toBe(1);
    expect(fake.checks).toHaveLength(1);
    expect(app.metrics.snapshot().counts['per-ip']).toEqual({ fail_open: 1 });
    const [event] = logs.events('fail_open');
    expect(event).toMatchObject({ rules: ['per-ip'], timeoutMs: 20 });
    expect(String(event!.error)).toMatch(error);
    expect(logs.events('fail_closed')).toEqual([]);
  });
});

describe.each(FORMS)('a fail-closed rule whose key object fails (%s)', (_form, packed) => {
  it.each(FAULTS)('answers 503 with Retry-After: 1 when the object %s, and logs and counts it', async (_, fault, error) => {
    logs = captureLogs();
    const fake = fakeLimiter(() => fault(), undefined, { packed });
    const app = testApp(perIp('closed'), { bindings: { RATE_LIMITER: fake.namespace } });
    const response = await app.request('/orders', from(freshIp()));
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('1');
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(await response.json()).toMatchObject({
      status: 503,
      type: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
    });
    expect(app.originCalls).toBe(0);
    expect(app.metrics.snapshot().counts['per-ip']).toEqual({ fail_closed: 1 });
    const [event] = logs.events('fail_closed');
    expect(event).toMatchObject({ rules: ['per-ip'], timeoutMs: 20 });
    expect(String(event!.error)).toMatch(error);
  });
});

describe('an overloaded object', () => {
  it('is asked exactly once per request, never retried', async () => {
    logs = captureLogs();
    const fake = fakeLimiter(() => Promise.reject(overloadedError()));
    const app = testApp(perIp('open'), { bindings: { RATE_LIMITER: fake.namespace } });
    for (let i = 0; i < 3; i++) expect((await app.request('/x', from('203.0.113.50'))).status).toBe(200);
    expect(fake.checks).toHaveLength(3);
    expect(app.metrics.snapshot().counts['per-ip']).toEqual({ fail_open: 3 });
  });
});

describe('a slow object', () => {
  it('is abandoned at the rule timeout: the answer arrives while the object is still thinking, and its late answer changes nothing', async () => {
    logs = captureLogs();
    let answer!: (d: KeyDecision) => void;
    let asked: KeyRequest | undefined;
    const fake = fakeLimiter((_, request) => {
      asked = request;
      return new Promise<KeyDecision>((resolve) => (answer = resolve));
    });
    const app = testApp(perIp('closed', 15), { bindings: { RATE_LIMITER: fake.namespace } });
    const response = await app.request('/x', from(freshIp()));
    // The object has not answered yet: the limiter did not wait for it.
    expect(response.status).toBe(503);
    expect(logs.events('fail_closed')[0]).toMatchObject({ timeoutMs: 15, error: 'TimeoutError: no answer within 15 ms' });
    answer(admitAll(asked!));
    await new Promise((r) => setTimeout(r, 0));
    expect(app.originCalls).toBe(0);
    expect(app.metrics.snapshot().counts['per-ip']).toEqual({ fail_closed: 1 });
  });

  it('waits for the shortest timeout among rules sharing the key', async () => {
    logs = captureLogs();
    const fake = fakeLimiter(() => new Promise<KeyDecision>(() => {}));
    const policy: PolicyInput = {
      name: 'faults',
      rules: [
        { name: 'slow-ok', key: 'ip', limits: [{ limit: 5, window: '1m' }], onError: { mode: 'open', timeoutMs: 5000 } },
        { name: 'fast', key: 'ip', limits: [{ limit: 50, window: '1h' }], onError: { mode: 'open', timeoutMs: 10 } },
      ],
    };
    const app = testApp(policy, { bindings: { RATE_LIMITER: fake.namespace } });
    expect((await app.request('/x', from(freshIp()))).status).toBe(200);
    expect(logs.events('fail_open')[0]).toMatchObject({ rules: ['slow-ok', 'fast'], timeoutMs: 10 });
  });
});

describe('faults under several keys', () => {
  const twoKeys = (ipMode: 'open' | 'closed'): PolicyInput => ({
    name: 'faults',
    rules: [
      { name: 'per-ip', key: 'ip', limits: [{ limit: 5, window: '1m' }], onError: { mode: ipMode, timeoutMs: 20 } },
      {
        name: 'per-token',
        key: 'bearer',
        limits: [{ limit: 5, window: '1m', countWhen: { status: ['2xx'] } }],
        onError: { mode: 'open', timeoutMs: 20 },
      },
    ],
  });
  const bearer = (ip: string) => from(ip, { Authorization: 'Bearer tok_faults' });

  it('a failing key does not lift the limits of a healthy key that refuses', async () => {
    logs = captureLogs();
    const fake = fakeLimiter((name, request) => (name.startsWith('ip=') ? Promise.reject(new Error('down')) : refuseAll(request)));
    const app = testApp(twoKeys('open'), { bindings: { RATE_LIMITER: fake.namespace } });
    const response = await app.request('/x', bearer(freshIp()));
    expect(response.status).toBe(429);
    expect(app.originCalls).toBe(0);
    expect(app.metrics.snapshot().counts).toEqual({ 'per-ip': { fail_open: 1 }, 'per-token': { refused: 1 } });
  });

  it('a fail-closed refusal gives back the reservation another key made for the same request', async () => {
    logs = captureLogs();
    const fake = fakeLimiter((name, request) => (name.startsWith('ip=') ? Promise.reject(new Error('down')) : admitAll(request)));
    const app = testApp(twoKeys('closed'), { bindings: { RATE_LIMITER: fake.namespace } });
    const response = await app.request('/x', bearer(freshIp()));
    expect(response.status).toBe(503);
    expect(fake.releases).toHaveLength(1);
    expect(fake.releases[0]!.name).toMatch(/^bearer=[0-9a-f]{64}$/);
    expect(fake.releases[0]!.releases.map((r) => [r.id, r.cost])).toEqual([['per-token/1m', 1]]);
  });

  it('a rule that fails closed wins over one that fails open on the same key', async () => {
    logs = captureLogs();
    const fake = fakeLimiter(() => Promise.reject(new Error('down')));
    const policy: PolicyInput = {
      name: 'faults',
      rules: [
        { name: 'lenient', key: 'ip', limits: [{ limit: 5, window: '1m' }], onError: { mode: 'open', timeoutMs: 20 } },
        { name: 'strict', key: 'ip', limits: [{ limit: 50, window: '1h' }], onError: { mode: 'closed', timeoutMs: 20 } },
      ],
    };
    const app = testApp(policy, { bindings: { RATE_LIMITER: fake.namespace } });
    expect((await app.request('/x', from(freshIp()))).status).toBe(503);
    expect(app.metrics.snapshot().counts).toEqual({ lenient: { fail_closed: 1 }, strict: { fail_closed: 1 } });
  });

  it('a release that fails is logged and does not touch the response', async () => {
    logs = captureLogs();
    const fake = fakeLimiter(
      (_, request) => admitAll(request),
      () => Promise.reject(new Error('release lost')),
    );
    const app = testApp(twoKeys('open'), { bindings: { RATE_LIMITER: fake.namespace } });
    const response = await app.request('/status/500', bearer(freshIp()));
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('origin ok');
    expect(fake.releases).toHaveLength(1);
    expect(logs.events('release_failed')).toEqual([{ event: 'release_failed', error: 'Error: release lost', limits: ['per-token/1m'] }]);
  });
});
