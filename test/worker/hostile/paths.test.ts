import { describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../../src/policy/schema';
import { freshIp, from, testApp } from '../faults/harness';

/** A pinned clock two days ahead, so no window ends (and no cleanup alarm fires) during a test. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 1_800_000;

const routes: PolicyInput = {
  name: 'routes',
  rules: [
    { name: 'admin', match: { paths: ['/admin/*'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
    { name: 'login', match: { methods: ['POST'], paths: ['/login'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
    { name: 'item', match: { methods: ['GET'], paths: ['/items/:id'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
  ],
};

/** Sends the canonical request, then the disguise from the same client: the disguise must be refused. */
async function disguiseIsRefused(canonical: [string, string], disguise: [string, string], policy: PolicyInput = routes) {
  const app = testApp(policy, { now: () => T0 });
  const ip = freshIp();
  const first = await app.request(canonical[1], { method: canonical[0], ...from(ip) });
  const second = await app.request(disguise[1], { method: disguise[0], ...from(ip) });
  return [first.status, second.status];
}

const ADMIN_DISGUISES = [
  '/ADMIN/users',
  '/Admin/Users',
  '//admin//users',
  '/admin///users///',
  '/./admin/./users',
  '/x/../admin/users',
  '/admin/x/y/../../users',
  '/../../../admin/users',
  '/%2e%2e/admin/users',
  '/%2E/admin/users',
  '/%2e/admin/%2e%2e/admin/users',
  '/%61dmin/users',
  '/%41DMIN/users',
  '/%2561dmin/users',
  '/%252561dmin/users',
  '/admin%2fusers',
  '/admin%2Fusers',
  '/admin%252fusers',
  '/admin%25252Fusers',
  '/%2Fadmin/users',
  '/admin%5cusers',
  '/admin\\users',
  '/admin;jsessionid=0123/users',
  '/admin/users;x=1',
  '/x/..;/admin/users',
  '/admin/%7Eusers/../users',
  `/admin/users?${'pad='.repeat(2000)}`,
  '/admin/users?admin=%2e%2e',
  '/admin/users#fragment',
  '/admin',
  '/admin/',
  `/admin/${'deep/'.repeat(5000)}users`,
  // Origins that keep an encoded slash or a `;` inside a segment serve these under /admin, though the lenient reading leaves it.
  '/admin/..%2Fusers',
  '/admin/..%2fusers',
  '/admin/..%252Fusers',
  '/admin/..%5Cusers',
  '/admin/..;/users',
];

describe('path disguises against a prefix rule (/admin/*)', () => {
  it.each(ADMIN_DISGUISES)('%s shares the budget of /admin/users', async (disguise) => {
    expect(await disguiseIsRefused(['GET', '/admin/users'], ['GET', disguise])).toEqual([200, 429]);
  });

  it.each(['/administrator', '/adminx/users', '/public/admin', '/%2561dministrator', '/admin%3Fusers/../../x'])(
    '%s is a different path and keeps its own budget',
    async (other) => {
      expect(await disguiseIsRefused(['GET', '/admin/users'], ['GET', other])).toEqual([200, 200]);
    },
  );
});

describe('path disguises against an exact rule (POST /login)', () => {
  it.each([
    '/login/',
    '/LOGIN',
    '//login',
    '/login;',
    '/login;jsessionid=1',
    '/%6c%6f%67%69%6e',
    '/a/../login',
    '/login?next=/admin',
    '/./login/.',
    '/login%2f',
  ])('POST %s shares the budget of POST /login', async (disguise) => {
    expect(await disguiseIsRefused(['POST', '/login'], ['POST', disguise])).toEqual([200, 429]);
  });

  it('other methods on the path are not the rule`s business', async () => {
    expect(await disguiseIsRefused(['POST', '/login'], ['GET', '/login'])).toEqual([200, 200]);
  });
});

describe('a one-segment parameter (GET /items/:id)', () => {
  it.each(['/items/1/', '/ITEMS/2', '/items//3', '/items/x/../4', '/items/%35'])('%s is an item', async (disguise) => {
    expect(await disguiseIsRefused(['GET', '/items/1'], ['GET', disguise])).toEqual([200, 429]);
  });

  it('an encoded slash inside the id is one item to an origin that keeps it encoded, so the item rule applies', async () => {
    // `/items/a%2Fb` is `/items/a/b` to an origin that decodes it (no item), and item `a/b` to one that does not.
    expect(await disguiseIsRefused(['GET', '/items/1'], ['GET', '/items/a%2Fb'])).toEqual([200, 429]);
  });
});

describe('HEAD and GET', () => {
  it('HEAD shares a GET rule`s budget, and its refusal has no body', async () => {
    const app = testApp(routes, { now: () => T0 });
    const ip = freshIp();
    expect((await app.request('/items/1', { method: 'GET', ...from(ip) })).status).toBe(200);
    const head = await app.request('/items/1', { method: 'HEAD', ...from(ip) });
    expect(head.status).toBe(429);
    expect(head.headers.get('Retry-After')).not.toBeNull();
    expect(await head.text()).toBe('');
  });

  it('HEAD and GET share one counter when the method is part of the key', async () => {
    const policy: PolicyInput = { name: 'by-method', rules: [{ name: 'm', key: ['ip', 'method'], limits: [{ limit: 2, window: '1h' }] }] };
    const app = testApp(policy, { now: () => T0 });
    const ip = freshIp();
    const statuses = [];
    for (const method of ['GET', 'HEAD', 'HEAD', 'GET']) statuses.push((await app.request('/x', { method, ...from(ip) })).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect((await app.request('/x', { method: 'POST', ...from(ip) })).status).toBe(200);
  });
});

describe('method-override headers', () => {
  const policy = (overrides: boolean): PolicyInput => ({
    name: 'override',
    ...(overrides ? { methodOverrideHeader: 'X-HTTP-Method-Override' } : {}),
    rules: [
      { name: 'deletes', match: { methods: ['DELETE'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
      { name: 'reads', match: { methods: ['GET'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
      { name: 'posts', match: { methods: ['POST'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] },
    ],
  });
  const send = async (overrides: boolean, requests: Array<[string, string | undefined]>) => {
    const app = testApp(policy(overrides), { now: () => T0 });
    const ip = freshIp();
    const statuses = [];
    for (const [method, override] of requests) {
      statuses.push((await app.request('/x', { method, ...from(ip, override ? { 'X-HTTP-Method-Override': override } : {}) })).status);
    }
    return statuses;
  };

  it('when the origin honours it, a tunnelled DELETE shares the DELETE budget', async () => {
    expect(
      await send(true, [
        ['DELETE', undefined],
        ['POST', 'DELETE'],
        ['POST', 'delete'],
      ]),
    ).toEqual([200, 429, 429]);
  });

  it('a GET with an override header is still a GET (frameworks override POST only)', async () => {
    expect(
      await send(true, [
        ['GET', undefined],
        ['GET', 'DELETE'],
        ['GET', 'POST'],
      ]),
    ).toEqual([200, 429, 429]);
  });

  it('an override to a made-up method leaves a POST a POST', async () => {
    expect(
      await send(true, [
        ['POST', undefined],
        ['POST', 'FROBNICATE'],
        ['POST', 'DELETE GET'],
        ['POST', 'X'.repeat(10_000)],
      ]),
    ).toEqual([200, 429, 429, 429]);
  });

  it('a list or a repeated header, which origins read differently, is refused with 400 and counts toward nothing', async () => {
    const app = testApp(policy(true), { now: () => T0 });
    const ip = freshIp();
    const deleteAs = (value: string | string[]) => {
      const headers = new Headers(from(ip).headers);
      for (const v of [value].flat()) headers.append('X-HTTP-Method-Override', v);
      return app.request('/x', { method: 'POST', headers });
    };
    expect((await app.request('/x', { method: 'DELETE', ...from(ip) })).status).toBe(200);
    // Express's method-override reads each of these as DELETE; Rack as a POST.
    for (const value of ['DELETE, x', 'DELETE,x', ' delete , POST', ['DELETE', 'x'], ['DELETE', 'DELETE'], 'x, DELETE']) {
      const refused = await deleteAs(value);
      expect(refused.status, String(value)).toBe(400);
      expect(refused.headers.get('Content-Type')).toBe('application/problem+json');
      expect(await refused.json()).toEqual({
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'X-HTTP-Method-Override must name one method; it was sent more than once or as a list',
      });
    }
    // None of them spent the POST budget.
    expect((await app.request('/x', { method: 'POST', ...from(ip) })).status).toBe(200);
    expect((await deleteAs('DELETE')).status).toBe(429);
  });

  it('a GET with a listed override is a GET: only a POST is overridden', async () => {
    expect(
      await send(true, [
        ['GET', 'DELETE, x'],
        ['GET', 'DELETE, x'],
      ]),
    ).toEqual([200, 429]);
  });

  it('when the policy does not name the header, it is ignored', async () => {
    expect(
      await send(false, [
        ['POST', undefined],
        ['POST', 'DELETE'],
      ]),
    ).toEqual([200, 429]);
  });
});

describe('hosts', () => {
  const policy: PolicyInput = {
    name: 'hosts',
    rules: [{ name: 'api', match: { hosts: ['api.example.test'] }, key: 'ip', limits: [{ limit: 1, window: '1h' }] }],
  };

  it.each(['http://API.EXAMPLE.TEST/x', 'http://api.example.test./x', 'http://api.example.test:8080/x', 'http://Api.Example.Test.:443/x'])(
    '%s is the same host',
    async (url) => {
      const app = testApp(policy, { now: () => T0 });
      const ip = freshIp();
      expect((await app.request('http://api.example.test/x', from(ip))).status).toBe(200);
      expect((await app.request(url, from(ip))).status).toBe(429);
    },
  );
});
