import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/worker';
import { freshIp } from '../../support/app';

const TOKEN = 'dashboard-secret-42';
const bindings = { ...env, ADMIN_TOKEN: TOKEN };
const app = createApp();
const ORIGIN = 'http://api.example.test';

afterEach(async () => {
  const { keys } = await env.RATE_LIMIT_CONFIG.list({ prefix: 'override:' });
  await Promise.all(keys.map((k) => env.RATE_LIMIT_CONFIG.delete(k.name)));
});

const page = (path: string, init: RequestInit = {}) => app.request(`${ORIGIN}/_ratelimit/dashboard${path}`, init, bindings);
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  page(path, { method: 'POST', body: form(fields), headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN, ...headers } });

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
  it('asks for the admin token, and refuses a wrong one or one posted from another origin', async () => {
    const first = await page('');
    expect(first.status).toBe(401);
    expect(await first.text()).toContain('name="token"');
    expect((await post('/login', { token: 'nope' })).status).toBe(401);
    expect((await post('/login', { token: TOKEN }, { Origin: 'https://evil.example' })).status).toBe(401);
    expect((await page('', { headers: { Cookie: 'erl_admin=' + '0'.repeat(64) } })).status).toBe(401);
  });

  it("shows the policy's rules, and saves and deletes an override from its form", async () => {
    const cookie = await signIn();
    const shown = await page('', { headers: { Cookie: cookie } });
    expect(shown.status).toBe(200);
    const body = await shown.text();
    expect(body).toContain('<code>per-ip</code>');
    expect(body).toContain('10 / 1m');
    const ip = freshIp();
    const saved = await post('/overrides', { rule: 'per-ip', kind: 'key', value: ip, limit: '3', window: '1m', reason: '<script>alert(1)</script>' }, { Cookie: cookie });
    const html = await saved.text();
    expect(html).toContain(`Saved override:per-ip:key:${ip}`);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get(`override:per-ip:key:${ip}`))!)).toEqual({ limits: [{ algorithm: 'fixed-window', limit: 3, window: 60_000 }], reason: '<script>alert(1)</script>' });
    const deleted = await post('/overrides/delete', { key: `override:per-ip:key:${ip}` }, { Cookie: cookie });
    expect(await deleted.text()).toContain(`Deleted override:per-ip:key:${ip}`);
    expect(await env.RATE_LIMIT_CONFIG.get(`override:per-ip:key:${ip}`)).toBeNull();
  });

  it('refuses form posts without the page origin, and names what is wrong with a bad override', async () => {
    const cookie = await signIn();
    const crossSite = await post('/overrides', { rule: 'per-ip', kind: 'key', value: '1.2.3.4', exempt: 'true' }, { Cookie: cookie, Origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    const bad = await post('/overrides', { rule: 'per-ip', kind: 'key', value: '1.2.3.4', limit: '-3', window: '1m' }, { Cookie: cookie });
    expect(await bad.text()).toMatch(/Error: limits\.0\.limit: /);
    expect((await env.RATE_LIMIT_CONFIG.list({ prefix: 'override:' })).keys).toEqual([]);
  });

  it('looks a key up and shows its live counters', async () => {
    const cookie = await signIn();
    const ip = freshIp();
    for (let i = 0; i < 4; i++) await (await app.request(`${ORIGIN}/items`, { headers: { 'CF-Connecting-IP': ip } }, bindings)).arrayBuffer();
    const html = await (await page(`?rule=per-ip&by=ip&value=${ip}`, { headers: { Cookie: cookie } })).text();
    expect(html).toContain('<td><code>per-ip/1m</code></td><td>4</td><td>6 of 10</td>');
  });

  it('opens an override in the form to edit it, and saves the change over it', async () => {
    const cookie = await signIn();
    const ip = freshIp();
    await post('/overrides', { rule: 'per-ip', kind: 'key', value: ip, limit: '3', window: '1m', expires: '2030-01-02T03:04', reason: 'trial' }, { Cookie: cookie });
    const key = `override:per-ip:key:${ip}`;
    const listed = await (await page('', { headers: { Cookie: cookie } })).text();
    expect(listed).toContain(`?edit=${encodeURIComponent(key)}#override-form`);
    const editing = await (await page(`?edit=${encodeURIComponent(key)}`, { headers: { Cookie: cookie } })).text();
    expect(editing).toContain(`value="${ip}"`);
    expect(editing).toContain('name="limit" type="number" min="0" placeholder="50000" value="3"');
    expect(editing).toContain('value="2030-01-02T03:04"');
    expect(editing).toContain('Save changes');
    await post('/overrides', { rule: 'per-ip', kind: 'key', value: ip, limit: '7', window: '1m', expires: '2030-01-02T03:04', reason: 'trial' }, { Cookie: cookie });
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get(key))!)).toEqual({ limits: [{ algorithm: 'fixed-window', limit: 7, window: 60_000 }], expires: '2030-01-02T03:04:00.000Z', reason: 'trial' });
  });

  it('names a bad expiry instead of failing, and adds list entries with an expiry', async () => {
    const cookie = await signIn();
    const bad = await post('/overrides', { rule: 'per-ip', kind: 'key', value: '1.2.3.4', limit: '3', window: '1m', expires: 'next tuesday' }, { Cookie: cookie });
    expect(bad.status).toBe(200);
    expect(await bad.text()).toContain('Error: expires: &quot;next tuesday&quot; is not a date and time');
    const added = await post('/lists', { list: 'block', kind: 'ip', value: '203.0.113.0/24', reason: 'scraper', expires: '2031-05-06T07:08' }, { Cookie: cookie });
    expect(await added.text()).toContain('Saved list:block:ip:203.0.113.0/24');
    expect(JSON.parse((await env.RATE_LIMIT_CONFIG.get('list:block:ip:203.0.113.0/24'))!)).toEqual({ reason: 'scraper', expires: '2031-05-06T07:08:00.000Z' });
    await env.RATE_LIMIT_CONFIG.delete('list:block:ip:203.0.113.0/24');
  });

  it('refuses an override or list entry whose expiry has passed, saving nothing', async () => {
    const cookie = await signIn();
    const override = await post('/overrides', { rule: 'per-ip', kind: 'key', value: '1.2.3.4', limit: '3', window: '1m', expires: '2020-01-02T03:04' }, { Cookie: cookie });
    expect(await override.text()).toContain('Error: expires 2020-01-02T03:04:00.000Z has passed');
    const listed = await post('/lists', { list: 'block', kind: 'ip', value: '203.0.113.0/24', expires: '2020-01-02T03:04' }, { Cookie: cookie });
    expect(await listed.text()).toContain('Error: expires 2020-01-02T03:04:00.000Z has passed');
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
    const login = await app.request(`${ORIGIN}/_ratelimit/dashboard/login`, { method: 'POST', body: form({ token: TOKEN }), headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN } }, rubygems);
    const cookie = login.headers.get('Set-Cookie')!.split(';')[0]!;
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
    const lifted = await rubyPage('/bans/lift', { method: 'POST', body: form({ rule: 'lb-ip', by: 'ip', value: ip }), headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN } });
    expect(await lifted.text()).toContain(`Lifted 1 ban of lb-ip on ${ip}, and removed list:block:ip:${ip}.`);
    expect(await env.RATE_LIMIT_CONFIG.get(`list:block:ip:${ip}`)).toBeNull();
  }, 60_000);
});
