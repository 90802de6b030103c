import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../../src/policy/schema';
import { captureLogs, freshIp, from, testApp } from '../faults/harness';

/** A pinned clock two days ahead, so no window ends (and no cleanup alarm fires) during a test. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 1_800_000;

let logs: ReturnType<typeof captureLogs>;
beforeEach(() => (logs = captureLogs()));
afterEach(() => logs.restore());

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function randomIpv4(): string {
  return [...crypto.getRandomValues(new Uint8Array(4))].join('.');
}

async function statuses(app: ReturnType<typeof testApp>, inits: RequestInit[]): Promise<number[]> {
  const out: number[] = [];
  for (const init of inits) out.push((await app.request('/x', init)).status);
  return out;
}

const perIp = (limit: number, clientIp?: PolicyInput['clientIp']): PolicyInput => ({
  name: 'per-ip',
  ...(clientIp ? { clientIp } : {}),
  rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit, window: '1h' }] }],
});

describe('spoofed client addresses', () => {
  const SPOOFABLE = [
    'X-Forwarded-For',
    'X-Real-IP',
    'True-Client-IP',
    'Forwarded',
    'X-Client-IP',
    'X-Cluster-Client-IP',
    'Client-IP',
    'X-Originating-IP',
  ];

  it('no forwarding header, however rotated, buys a client a new budget', async () => {
    const app = testApp(perIp(3), { now: () => T0 });
    const ip = freshIp();
    const inits = Array.from({ length: 40 }, (_, i) =>
      from(ip, { [SPOOFABLE[i % SPOOFABLE.length]!]: i % 2 ? randomIpv4() : `for=${randomIpv4()}` }),
    );
    const result = await statuses(app, inits);
    expect(result.slice(0, 3)).toEqual([200, 200, 200]);
    expect(result.slice(3).every((s) => s === 429)).toBe(true);
  });

  it('behind a trusted proxy that appends to X-Forwarded-For, what the client prepends is ignored', async () => {
    const app = testApp(perIp(2, { trustedProxyHeader: 'X-Forwarded-For', trustedHops: 1 }), { now: () => T0 });
    const real = randomIpv4();
    const proxy = freshIp();
    const inits = Array.from({ length: 10 }, () => from(proxy, { 'X-Forwarded-For': `${randomIpv4()}, ${randomIpv4()},${real}` }));
    expect(await statuses(app, inits)).toEqual([200, 200, ...Array(8).fill(429)]);
  });

  it.each([
    'unknown',
    '1.2.3.4:99999',
    '[2001:db8::1]:https',
    '2001:db8::1]:443',
    '[1.2.3.4]:8080',
    'example.com:443',
    'not an address',
    '999.1.1.1',
    ' , , ',
  ])('a trusted header holding %j falls back to CF-Connecting-IP instead of leaving the request unkeyed', async (garbage) => {
    for (const header of ['X-Forwarded-For', 'X-Real-IP', 'True-Client-IP'] as const) {
      const app = testApp(perIp(1, { trustedProxyHeader: header }), { now: () => T0 });
      const ip = freshIp();
      expect(await statuses(app, [from(ip, { [header]: garbage }), from(ip, { [header]: garbage })]), header).toEqual([200, 429]);
    }
  });

  it('a trusted header holding an address with a port keys the address: one budget across ports, another for the next client', async () => {
    for (const header of ['X-Forwarded-For', 'X-Real-IP', 'True-Client-IP'] as const) {
      const app = testApp(perIp(1, { trustedProxyHeader: header }), { now: () => T0 });
      const proxy = freshIp();
      const [v4, v6] = [randomIpv4(), `2001:db8:${randomHex(2)}::1`];
      const inits = [`${v4}:8080`, `${v4}:8081`, `[${v6}]:443`, `[${v6}]:444`].map((value) => from(proxy, { [header]: value }));
      expect(await statuses(app, inits), header).toEqual([200, 429, 200, 429]);
    }
  });
});

describe('IPv6 rotation', () => {
  it('fifty addresses in one /64, in any spelling, share one budget', async () => {
    const app = testApp(perIp(5), { now: () => T0 });
    const prefix = `2001:db8:${randomHex(2)}:${randomHex(2)}`;
    const inits = Array.from({ length: 50 }, (_, i) => {
      const host = [randomHex(2), randomHex(2), randomHex(2), randomHex(2)];
      const spelling =
        i % 3 === 0
          ? `${prefix}:${host.join(':')}`.toUpperCase()
          : i % 3 === 1
            ? `${prefix.replace('2001:db8', '2001:0db8')}:${host.join(':')}`
            : `${prefix}::${host[3]}`;
      return from(spelling);
    });
    const result = await statuses(app, inits);
    expect(result.filter((s) => s === 200)).toHaveLength(5);
    expect(result.slice(5).every((s) => s === 429)).toBe(true);
  });

  it('with a /48 prefix, rotating /64s inside the /48 shares one budget', async () => {
    const app = testApp(perIp(2, { ipv6Prefix: 48 }), { now: () => T0 });
    const site = `2001:db8:${randomHex(2)}`;
    const inits = Array.from({ length: 6 }, () => from(`${site}:${randomHex(2)}::${randomHex(2)}`));
    expect(await statuses(app, inits)).toEqual([200, 200, 429, 429, 429, 429]);
  });

  it('an IPv4-mapped IPv6 address is its IPv4 address', async () => {
    const app = testApp(perIp(1), { now: () => T0 });
    const v4 = randomIpv4();
    expect(await statuses(app, [from(v4), from(`::ffff:${v4}`), from(`::FFFF:${v4}`)])).toEqual([200, 429, 429]);
  });
});

describe('Authorization headers', () => {
  const policy: PolicyInput = {
    name: 'auth',
    rules: [
      { name: 'per-token', key: 'bearer', limits: [{ limit: 2, window: '1h' }] },
      { name: 'per-ip', key: 'ip', limits: [{ limit: 4, window: '1h' }] },
    ],
  };

  it('spellings of one bearer token share its budget', async () => {
    const app = testApp(policy, { now: () => T0 });
    const token = `tok_${randomHex(8)}`;
    const spellings = [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}`, `Bearer\t${token}`, `Bearer ${token}   `];
    const result = await statuses(
      app,
      spellings.map((a) => from(freshIp(), { Authorization: a })),
    );
    expect(result).toEqual([200, 200, 429, 429, 429]);
  });

  it.each([
    ['enormous', `Bearer ${'A'.repeat(100_000)}`],
    ['empty bearer', 'Bearer '],
    ['scheme only', 'Bearer'],
    ['two tokens', 'Bearer a b'],
    ['other scheme', 'Digest username="x", realm="y"'],
    ['Basic with garbage', 'Basic !!!!'],
    ['Basic enormous', `Basic ${'QUFB'.repeat(50_000)}`],
    ['binary', '\u00ff\u00fe\u0001\u0002'],
    ['comma list', 'Bearer a, Bearer b'],
  ])('a %s Authorization header crashes nothing and dodges nothing: the per-IP limit still holds', async (_, authorization) => {
    const app = testApp(policy, { now: () => T0 });
    const ip = freshIp();
    const result = await statuses(
      app,
      Array.from({ length: 6 }, () => from(ip, { Authorization: authorization })),
    );
    expect(result).toEqual([200, 200, 200, 200, 429, 429]);
  });
});

describe('Basic auth users', () => {
  const policy: PolicyInput = { name: 'basic', rules: [{ name: 'per-user', key: 'basic-user', limits: [{ limit: 2, window: '1h' }] }] };
  const basic = (userPass: string) => `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(userPass)))}`;

  it('rotating passwords, dropping the colon, padding, case or full-width letters do not make a new user', async () => {
    const app = testApp(policy, { now: () => T0 });
    const user = `alice${randomHex(3)}`;
    const variants = [
      basic(`${user}:pw1`),
      basic(`${user}:pw2`),
      basic(user),
      basic(`${user}:`),
      basic(`${user}:pw3`).replace(/=+$/, ''),
      basic(`${user.toUpperCase()}:pw4`),
      basic(`${[...user].map((c) => (/[a-z]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('')}:pw5`),
      basic(` ${user} :pw6`),
      `basic    ${basic(`${user}:pw7`).slice(6)}`,
    ];
    const result = await statuses(
      app,
      variants.map((a) => from(freshIp(), { Authorization: a })),
    );
    expect(result).toEqual([200, 200, ...Array(variants.length - 2).fill(429)]);
  });

  it('another user keeps their own budget', async () => {
    const app = testApp(policy, { now: () => T0 });
    const suffix = randomHex(3);
    const result = await statuses(
      app,
      [basic(`alice${suffix}:x`), basic(`alice${suffix}:x`), basic(`bob${suffix}:x`)].map((a) => from(freshIp(), { Authorization: a })),
    );
    expect(result).toEqual([200, 200, 200]);
  });
});

describe('JWT claims', () => {
  const SECRET = 'test-secret-of-reasonable-length-0123456789';
  const policy: PolicyInput = {
    name: 'jwt',
    identity: { credential: 'bearer', jwt: { secretBinding: 'JWT_SECRET', algorithms: ['HS256'], issuer: 'https://issuer.example' } },
    rules: [
      { name: 'basic-tiers', match: { tiers: ['default', 'anonymous'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
      { name: 'pro-tier', match: { tiers: ['pro'] }, key: 'ip', limits: [{ limit: 100, window: '1h' }] },
    ],
  };
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const b64url = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const sign = (claims: Record<string, unknown>, secret = SECRET, header: Record<string, unknown> = { alg: 'HS256' }) =>
    new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(new TextEncoder().encode(secret));
  const proClaims = () => ({ sub: 'user-1', tier: 'pro', iss: 'https://issuer.example', iat: nowSeconds() });

  async function tierStatuses(token: string) {
    const app = testApp(policy, { now: () => T0, bindings: { JWT_SECRET: SECRET } });
    const ip = freshIp();
    return statuses(app, [from(ip, { Authorization: `Bearer ${token}` }), from(ip, { Authorization: `Bearer ${token}` })]);
  }

  it('control: a valid token gets the pro tier', async () => {
    expect(await tierStatuses(await sign({ ...proClaims(), exp: nowSeconds() + 600 }))).toEqual([200, 200]);
  });

  const FORGERIES: Array<[string, () => Promise<string> | string]> = [
    ['alg: none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(proClaims())}.`],
    ['alg: none with a signature', () => `${b64url({ alg: 'none' })}.${b64url(proClaims())}.${b64url('sig')}`],
    ['alg: "NONE"', () => `${b64url({ alg: 'NONE' })}.${b64url(proClaims())}.`],
    ['a bad signature', () => sign(proClaims(), 'another-secret-of-reasonable-length-999')],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign({ sub: 'user-1', tier: 'free', iss: 'https://issuer.example' })).split('.');
        return `${h}.${b64url(proClaims())}.${s}`;
      },
    ],
    ['an expired token', () => sign({ ...proClaims(), exp: nowSeconds() - 60 })],
    ['a not-yet-valid token', () => sign({ ...proClaims(), nbf: nowSeconds() + 3600 })],
    ['a token from another issuer', () => sign({ ...proClaims(), iss: 'https://evil.example' })],
    ['an algorithm not allowed (HS512)', () => sign(proClaims(), SECRET, { alg: 'HS512' })],
    ['an exp that is not a number', () => sign({ ...proClaims(), exp: 'never' })],
    ['a header that is not JSON', () => `${btoa('{{{').replace(/=+$/, '')}.${b64url(proClaims())}.abc`],
    ['four parts', async () => `${await sign(proClaims())}.extra`],
  ];

  it.each(FORGERIES)('%s claiming the pro tier gets the default tier', async (_, forge) => {
    expect(await tierStatuses(await forge())).toEqual([200, 429]);
  });
});
