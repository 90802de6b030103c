import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardApp } from '../../../src/dashboard/app';
import { sessionValue } from '../../../src/dashboard/session';
import { rateLimit } from '../../../src/http/middleware';
import { LAST_FAILURE_ROW } from '../../../src/notifications/deliver';
import defaultPolicy from '../../../src/presets/default';
import { createApp } from '../../../src/worker';
import { freshIp, manualClock } from '../../support/app';
import { signInToDashboard } from './support';

const TOKEN = 'dashboard-secret-42';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const ORIGIN = 'https://api.example.test';

afterEach(async () => {
  for (const prefix of ['override:', 'list:']) {
    const { keys } = await env.RATE_LIMIT_CONFIG.list({ prefix });
    await Promise.all(keys.map((k) => env.RATE_LIMIT_CONFIG.delete(k.name)));
  }
});

const page = (path: string, init: RequestInit = {}) => app.request(`${ORIGIN}/_ratelimit/dashboard${path}`, init, bindings);
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  page(path, {
    method: 'POST',
    body: form(fields),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN, ...headers },
  });

/** Posts a form the dashboard must refuse (400): the page it shows instead, with the form as typed and the error beside its field. */
async function postRefused(path: string, fields: Record<string, string>, cookie: string): Promise<string> {
  const response = await post(path, fields, { Cookie: cookie });
  expect(response.status).toBe(400);
  return response.text();
}

/** `name=value` of each cookie a response sets. */
const setCookies = (response: Response) => response.headers.getSetCookie().map((c) => c.split(';')[0]!);

/** Follows a post's 303 as a browser would: a GET of its Location, with the session and the cookies the post set. */
async function follow(response: Response, cookie: string): Promise<Response> {
  expect(response.status).toBe(303);
  await response.arrayBuffer();
  const location = response.headers.get('Location')!;
  return app.request(`${ORIGIN}${location}`, { headers: { Cookie: [cookie, ...setCookies(response)].join('; ') } }, bindings);
}

async function signIn(): Promise<string> {
  const response = await post('/login', { token: TOKEN });
  expect(response.status).toBe(303);
  expect(response.headers.get('Location')).toBe('/_ratelimit/dashboard');
  const cookie = response.headers.get('Set-Cookie')!;
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/Secure/);
  expect(cookie).toMatch(/SameSite=Strict/);
  expect(cookie).toMatch(/Path=\/_ratelimit/);
  expect(cookie).not.toContain(TOKEN);
  return cookie.split(';')[0]!;
}

describe('the dashboard page', () => {
  it('shows the last failed delivery of a near-limit notification, and ignores a malformed record of one', async () => {
    const cookie = await signIn();
    const read = async () => (await page('', { headers: { Cookie: cookie } })).text();
    try {
      expect(await read()).toContain('No failed deliveries.');
      await env.RATE_LIMIT_CONFIG.put(
        LAST_FAILURE_ROW,
        JSON.stringify({ at: '2027-01-20T10:00:00.000Z', eventId: 'ab12:api/month:0:80', attempt: 3, error: 'HTTP 503', retrying: true }),
      );
      expect(await read()).toContain(
        'Last failed delivery: 2027-01-20T10:00:00.000Z, event <code>ab12:api/month:0:80</code>, attempt 3: HTTP 503 (retrying)',
      );
      await env.RATE_LIMIT_CONFIG.put(LAST_FAILURE_ROW, '{"at": 5}');
      const malformed = await page('', { headers: { Cookie: cookie } });
      expect(malformed.status).toBe(200);
      expect(await malformed.text()).toContain('No failed deliveries.');
    } finally {
      await env.RATE_LIMIT_CONFIG.delete(LAST_FAILURE_ROW);
    }
  });

  it('asks for the admin token, and refuses a wrong one or one posted from another origin', async () => {
    const first = await page('');
    expect(first.status).toBe(401);
    expect(await first.text()).toContain('name="token"');
    expect((await post('/login', { token: 'nope' })).status).toBe(401);
    expect((await post('/login', { token: TOKEN }, { Origin: 'https://evil.example' })).status).toBe(401);
    expect((await page('', { headers: { Cookie: `erl_admin=${'0'.repeat(64)}` } })).status).toBe(401);
  });

  it("shows the policy's rules, and saves and deletes an override from its form", async () => {
    const cookie = await signIn();
    const shown = await page('', { headers: { Cookie: cookie } });
    expect(shown.status).toBe(200);
    const body = await shown.text();
    expect(body).toContain('<code>per-ip</code>');
    expect(body).toContain('10 / 1m');
    const ip = freshIp();
    const saved = await follow(
      await post(
        '/overrides',
        { rule: 'per-ip', kind: 'key', value: ip, limit: '3', window: '1m', reason: '<script>alert(1)</script>' },
        { Cookie: cookie },
      ),
      cookie,
    );
    const html = await saved.text();
    expect(html).toContain(`Saved override:per-ip:key:${ip}`);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get(`override:per-ip:key:${ip}`))!)).toEqual({
      limits: [{ algorithm: 'fixed-window', limit: 3, window: 60_000 }],
      reason: '<script>alert(1)</script>',
    });
    const deleted = await follow(await post('/overrides/delete', { key: `override:per-ip:key:${ip}` }, { Cookie: cookie }), cookie);
    expect(await deleted.text()).toContain(`Deleted override:per-ip:key:${ip}`);
    expect(await env.RATE_LIMIT_CONFIG.get(`override:per-ip:key:${ip}`)).toBeNull();
  });

  it('refuses form posts without the page origin, and names what is wrong with a bad override beside its field, keeping what was typed', async () => {
    const cookie = await signIn();
    const crossSite = await post(
      '/overrides',
      { rule: 'per-ip', kind: 'key', value: '1.2.3.4', exempt: 'true' },
      { Cookie: cookie, Origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    const html = await postRefused(
      '/overrides',
      { rule: 'per-ip', kind: 'key', value: '192.0.2.44', limit: '-3', window: '1m', reason: 'typed by hand' },
      cookie,
    );
    expect(html).toMatch(
      /<input name="limit" type="number" min="0" placeholder="50000" value="-3" aria-invalid="true" \/><span class="field-error bad" id="override-form-limit-error" role="alert">Limit: /,
    );
    expect(html).toContain('value="192.0.2.44"');
    expect(html).toContain('value="typed by hand"');
    expect(html).not.toContain('id="notice"');
    expect((await env.RATE_LIMIT_CONFIG.list({ prefix: 'override:' })).keys).toEqual([]);
  });

  it('looks a key up and shows its live counters', async () => {
    const cookie = await signIn();
    const ip = freshIp();
    for (let i = 0; i < 4; i++)
      await (await app.request(`${ORIGIN}/items`, { headers: { 'CF-Connecting-IP': ip } }, bindings)).arrayBuffer();
    const html = await (await page(`?rule=per-ip&by=ip&value=${ip}`, { headers: { Cookie: cookie } })).text();
    expect(html).toContain('<td><code>per-ip/1m</code></td><td>4</td><td>6 of 10</td>');
  });

  it('opens an override in the form to edit it, saves the change over it, and offers to cancel the edit', async () => {
    const cookie = await signIn();
    const ip = freshIp();
    await follow(
      await post(
        '/overrides',
        { rule: 'per-ip', kind: 'key', value: ip, limit: '3', window: '1m', expires: '2030-01-02T03:04', reason: 'trial' },
        { Cookie: cookie },
      ),
      cookie,
    );
    const key = `override:per-ip:key:${ip}`;
    const listed = await (await page('', { headers: { Cookie: cookie } })).text();
    expect(listed).toContain(`?edit=${encodeURIComponent(key)}#override-form`);
    expect(listed).not.toContain('id="cancel-edit"');
    const editing = await (await page(`?edit=${encodeURIComponent(key)}`, { headers: { Cookie: cookie } })).text();
    expect(editing).toContain(`value="${ip}"`);
    expect(editing).toContain('name="limit" type="number" min="0" placeholder="50000" value="3"');
    expect(editing).toContain('value="2030-01-02T03:04"');
    expect(editing).toContain('Save changes');
    expect(editing).toContain('<a href="/_ratelimit/dashboard" id="cancel-edit">Cancel</a>');
    // A refused edit stays an edit: the values as typed, and the way out.
    const refusedHtml = await postRefused(
      '/overrides',
      { edit: key, rule: 'per-ip', kind: 'key', value: ip, limit: '7', window: 'soon', expires: '2030-01-02T03:04', reason: 'trial' },
      cookie,
    );
    expect(refusedHtml).toContain('id="override-form-window-error" role="alert">Window: ');
    expect(refusedHtml).toContain('value="soon"');
    expect(refusedHtml).toContain('id="cancel-edit"');
    await follow(
      await post(
        '/overrides',
        { edit: key, rule: 'per-ip', kind: 'key', value: ip, limit: '7', window: '1m', expires: '2030-01-02T03:04', reason: 'trial' },
        { Cookie: cookie },
      ),
      cookie,
    );
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get(key))!)).toEqual({
      limits: [{ algorithm: 'fixed-window', limit: 7, window: 60_000 }],
      expires: '2030-01-02T03:04:00.000Z',
      reason: 'trial',
    });
  });

  it('names a bad expiry beside its field (400) instead of failing, and adds list entries with an expiry', async () => {
    const cookie = await signIn();
    const badExpiry = await postRefused(
      '/overrides',
      { rule: 'per-ip', kind: 'key', value: '1.2.3.4', limit: '3', window: '1m', expires: 'next tuesday' },
      cookie,
    );
    expect(badExpiry).toContain(
      'id="override-form-expires-error" role="alert">Expires (UTC): &quot;next tuesday&quot; is not a date and time',
    );
    const badListHtml = await postRefused('/lists', { list: 'block', kind: 'ip', value: '198.51.100.300', reason: 'scraper' }, cookie);
    expect(badListHtml).toContain(
      'id="list-form-value-error" role="alert">Value: &quot;198.51.100.300&quot; is not an IPv4 or IPv6 address',
    );
    expect(badListHtml).toContain('value="198.51.100.300"');
    const added = await follow(
      await post(
        '/lists',
        { list: 'block', kind: 'ip', value: '198.51.100.0/24', reason: 'scraper', expires: '2031-05-06T07:08' },
        { Cookie: cookie },
      ),
      cookie,
    );
    expect(await added.text()).toContain('Saved list:block:ip:198.51.100.0/24');
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get('list:block:ip:198.51.100.0/24'))!)).toEqual({
      reason: 'scraper',
      expires: '2031-05-06T07:08:00.000Z',
    });
  });

  it('redirects after a post (303) with a message shown once, so a reload does not post again', async () => {
    const cookie = await signIn();
    const ip = freshIp();
    const posted = await post('/overrides', { rule: 'per-ip', kind: 'key', value: ip, exempt: 'true' }, { Cookie: cookie });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('Location')).toBe('/_ratelimit/dashboard');
    const flash = posted.headers.getSetCookie().find((c) => c.startsWith('erl_flash='))!;
    expect(flash).toMatch(/HttpOnly/);
    expect(flash).toMatch(/Path=\/_ratelimit\/dashboard/);
    const shown = await follow(posted, cookie);
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain(`<p class="ok" id="notice" role="status">Saved override:per-ip:key:${ip}.</p>`);
    // The page clears the message as it shows it: the reload (a GET) neither posts nor shows it again.
    expect(shown.headers.getSetCookie().some((c) => /^erl_flash=;.*Max-Age=0/.test(c))).toBe(true);
    const reloaded = await page('', { headers: { Cookie: cookie } });
    expect(await reloaded.text()).not.toContain('id="notice"');
  });

  it('refuses an override or list entry whose expiry has passed, saving nothing', async () => {
    const cookie = await signIn();
    const override = await postRefused(
      '/overrides',
      { rule: 'per-ip', kind: 'key', value: '1.2.3.4', limit: '3', window: '1m', expires: '2020-01-02T03:04' },
      cookie,
    );
    expect(override).toContain('id="override-form-expires-error" role="alert">Expires (UTC): expires 2020-01-02T03:04:00.000Z has passed');
    const listed = await postRefused('/lists', { list: 'block', kind: 'ip', value: '203.0.113.0/24', expires: '2020-01-02T03:04' }, cookie);
    expect(listed).toContain('id="list-form-expires-error" role="alert">Expires (UTC): expires 2020-01-02T03:04:00.000Z has passed');
    expect(await env.RATE_LIMIT_CONFIG.get('override:per-ip:key:1.2.3.4')).toBeNull();
    expect(await env.RATE_LIMIT_CONFIG.get('list:block:ip:203.0.113.0/24')).toBeNull();
  });

  it('takes a session cookie of any length or alphabet as just a wrong one', async () => {
    expect((await page('', { headers: { Cookie: `erl_admin=${encodeURIComponent('é'.repeat(64))}` } })).status).toBe(401);
    expect((await page('', { headers: { Cookie: `erl_admin=${'a'.repeat(5000)}` } })).status).toBe(401);
  });

  it('lifts a ban from the key lookup, taking a blocked address off the block list too', async () => {
    const rubygems = { ...bindings, POLICY: 'rubygems' };
    const rubyPage = (path: string, init: RequestInit = {}) => app.request(`${ORIGIN}/_ratelimit/dashboard${path}`, init, rubygems);
    const cookie = await signInToDashboard(app, { token: TOKEN, bindings: rubygems });
    const ip = freshIp();
    let status = 0;
    for (let i = 0; i < 2_000 && status !== 403; i++) {
      const response = await app.request(`${ORIGIN}/gems/rails`, { headers: { 'CF-Connecting-IP': ip } }, rubygems);
      await response.arrayBuffer();
      status = response.status;
    }
    expect(status).toBe(403);
    const lookup = await (await rubyPage(`?rule=lb-ip&by=ip&value=${ip}`, { headers: { Cookie: cookie } })).text();
    expect(lookup).toContain('banned by lb-ip until');
    expect(lookup).toContain('Lift ban');
    const lifted = await rubyPage('/bans/lift', {
      method: 'POST',
      body: form({ rule: 'lb-ip', by: 'ip', value: ip }),
      headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN },
    });
    expect(lifted.status).toBe(303);
    const shown = await rubyPage('', { headers: { Cookie: [cookie, ...setCookies(lifted)].join('; ') } });
    expect(await shown.text()).toContain(`Lifted 1 ban of lb-ip on ${ip}, and removed list:block:ip:${ip}.`);
    expect(await env.RATE_LIMIT_CONFIG.get(`list:block:ip:${ip}`)).toBeNull();
  }, 60_000);

  it('refuses an identity record the policy would never use, and saves one it reads without showing the credential again', async () => {
    const cookie = await signIn();
    const credential = `tok-${crypto.randomUUID()}`;
    const unreadHtml = await postRefused('/identities', { credential, subject: 'alice', org: '', tier: 'pro' }, cookie);
    expect(unreadHtml).toContain('id="identity-form-error" role="alert">policy &quot;default&quot; reads no identity records');
    expect(unreadHtml).toContain('value="alice"');
    expect(unreadHtml).not.toContain(credential);
    const cloudsmith = { ...bindings, POLICY: 'cloudsmith' };
    const csPost = (fields: Record<string, string>, cookie_: string) =>
      app.request(
        `${ORIGIN}/_ratelimit/dashboard/identities`,
        {
          method: 'POST',
          body: form(fields),
          headers: { Cookie: cookie_, 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN },
        },
        cloudsmith,
      );
    const noTier = await csPost({ credential, subject: 'alice', tier: 'platinum' }, cookie);
    expect(noTier.status).toBe(400);
    expect(await noTier.text()).toContain(
      'id="identity-form-tier-error" role="alert">Tier: policy &quot;cloudsmith&quot; has no tier &quot;platinum&quot;',
    );
    const saved = await csPost({ credential, subject: 'alice', org: 'acme', tier: 'pro' }, cookie);
    expect(saved.status).toBe(303);
    const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(credential)))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get(`identity:${hash}`))!)).toEqual({ subject: 'alice', org: 'acme', tier: 'pro' });
    await env.RATE_LIMIT_CONFIG.delete(`identity:${hash}`);
  });

  it('reports a bad lookup value beside the lookup form without failing', async () => {
    const cookie = await signIn();
    const html = await (await page('?rule=per-ip&by=ip&value=not-an-ip', { headers: { Cookie: cookie } })).text();
    expect(html).toContain('id="lookup-error">&quot;not-an-ip&quot; is not an IP address');
  });
});

describe('dashboard sessions', () => {
  /** A dashboard of its own with a clock the test moves. */
  function clockedDashboard(start: number) {
    const clock = manualClock(start);
    const mounted = new Hono().route(
      '/_ratelimit',
      dashboardApp({ limiter: rateLimit({ policy: defaultPolicy }), now: clock.now, basePath: '/_ratelimit' }),
    );
    const request = (path: string, init: RequestInit = {}, token: string = TOKEN) =>
      mounted.request(`${ORIGIN}/_ratelimit/dashboard${path}`, init, { ...env, ADMIN_TOKEN: token });
    const signIn = async (token: string = TOKEN) => {
      const response = await request(
        '/login',
        { method: 'POST', body: form({ token }), headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN } },
        token,
      );
      expect(response.status).toBe(303);
      return response.headers.get('Set-Cookie')!;
    };
    return { clock, request, signIn };
  }

  it('gives every sign-in its own value, HttpOnly, SameSite=Strict, on the dashboard path only, Secure over https', async () => {
    const first = await signIn();
    const second = await signIn();
    expect(first).not.toBe(second);
    const response = await post('/login', { token: TOKEN });
    const cookie = response.headers.get('Set-Cookie')!;
    expect(cookie).toMatch(/; Path=\/_ratelimit\/dashboard(;|$)/);
    expect(cookie).toMatch(/; Max-Age=28800(;|$)/);
    const overHttp = await app.request(
      'http://127.0.0.1:8787/_ratelimit/dashboard/login',
      {
        method: 'POST',
        body: form({ token: TOKEN }),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'http://127.0.0.1:8787' },
      },
      bindings,
    );
    const plain = overHttp.headers.get('Set-Cookie')!;
    expect(plain).toMatch(/HttpOnly/);
    expect(plain).toMatch(/SameSite=Strict/);
    expect(plain).not.toMatch(/Secure/);
  });

  it('refuses the old timeless session value, an altered issue time and a session eight hours old', async () => {
    const start = Date.parse('2026-12-06T08:00:00Z');
    const dash = clockedDashboard(start);
    const cookie = (await dash.signIn()).split(';')[0]!;
    expect((await dash.request('', { headers: { Cookie: cookie } })).status).toBe(200);
    // The value an earlier version set for every sign-in: an HMAC of the secret alone.
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(TOKEN), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const timeless = [
      ...new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('edge-ratelimit dashboard session'))),
    ]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    expect((await dash.request('', { headers: { Cookie: `erl_admin=${timeless}` } })).status).toBe(401);
    const [issuedAt, id, mac] = cookie.slice('erl_admin='.length).split('.');
    expect((await dash.request('', { headers: { Cookie: `erl_admin=${Number(issuedAt) + 3600_000}.${id}.${mac}` } })).status).toBe(401);
    dash.clock.advance(8 * 3600_000 - 1);
    expect((await dash.request('', { headers: { Cookie: cookie } })).status).toBe(200);
    dash.clock.advance(1);
    expect((await dash.request('', { headers: { Cookie: cookie } })).status).toBe(401);
    // A value signed for a time ahead of the clock is refused too.
    expect(
      (await dash.request('', { headers: { Cookie: `erl_admin=${await sessionValue(TOKEN, dash.clock.now() + 3600_000)}` } })).status,
    ).toBe(401);
  });

  it('ends every session when the admin token is rotated', async () => {
    const dash = clockedDashboard(Date.now());
    const cookie = (await dash.signIn()).split(';')[0]!;
    expect((await dash.request('', { headers: { Cookie: cookie } })).status).toBe(200);
    expect((await dash.request('', { headers: { Cookie: cookie } }, 'rotated-secret-43')).status).toBe(401);
  });

  it('signs out: the cookie is cleared, and a copy of its value no longer works', async () => {
    const cookie = await signIn();
    expect((await page('', { headers: { Cookie: cookie } })).status).toBe(200);
    expect(await (await page('', { headers: { Cookie: cookie } })).text()).toContain('id="sign-out"');
    const out = await post('/logout', {}, { Cookie: cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get('Location')).toBe('/_ratelimit/dashboard');
    expect(out.headers.get('Set-Cookie')).toMatch(
      /^erl_admin=; Max-Age=0; Path=\/_ratelimit\/dashboard; HttpOnly; Secure; SameSite=Strict/,
    );
    expect((await page('', { headers: { Cookie: cookie } })).status).toBe(401);
    expect((await post('/overrides', { rule: 'per-ip', kind: 'key', value: '192.0.2.9', exempt: 'true' }, { Cookie: cookie })).status).toBe(
      401,
    );
    expect((await signIn()) === cookie).toBe(false);
    // Signing out from another origin is refused; without a session it still clears the cookie.
    expect((await post('/logout', {}, { Cookie: cookie, Origin: 'https://evil.example' })).status).toBe(403);
    const stale = await post('/logout', {}, { Cookie: cookie });
    expect(stale.status).toBe(303);
    expect(stale.headers.get('Set-Cookie')).toMatch(/^erl_admin=; Max-Age=0/);
  });
});
