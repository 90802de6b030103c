import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chromium, launchChromium } from './support/chromium';
import { type DevServer, startDev } from './support/wrangler-dev';

const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const TOKEN = 'e2e-dashboard-token';

let dev: DevServer;
let chromium: Chromium;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dev = await startDev([], { ADMIN_TOKEN: TOKEN });
  chromium = await launchChromium();
  browser = chromium.browser;
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  await dev?.stop();
});

describe('the dashboard in a real browser', () => {
  it('signs in, shows refusals, saves an override through its form and looks a key up', async () => {
    // Refusals for the dashboard to show: 11 requests from one address against 10 per minute.
    const ip = '198.51.100.77';
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const response = await fetch(`${dev.url}/items`, { headers: { 'CF-Connecting-IP': ip } });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses.at(-1)).toBe(429);

    const page = await browser.newPage();
    await page.goto(`${dev.url}/_ratelimit/dashboard`);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-sign-in.png') });
    await page.fill('#token', 'not the token');
    await page.click('#sign-in');
    expect(await page.textContent('#login-error')).toContain('not the admin token');
    await page.fill('#token', TOKEN);
    await page.click('#sign-in');
    await page.waitForSelector('#rules');
    expect(await page.textContent('#rules')).toContain('per-ip');
    expect(await page.textContent('#refusals')).toContain('per-ip');
    expect(await page.textContent('#counters')).toContain('per-ip');

    const override = page.locator('#override-form');
    await override.locator('select[name=rule]').selectOption('per-ip');
    await override.locator('input[name=value]').fill('198.51.100.78');
    await override.locator('input[name=limit]').fill('2');
    await override.locator('input[name=window]').fill('1m');
    await override.locator('input[name=reason]').fill('browser test');
    await override.locator('button[type=submit]').click();
    await page.waitForSelector('#notice');
    expect(await page.textContent('#notice')).toContain('Saved override:per-ip:key:198.51.100.78');
    expect(await page.textContent('#overrides')).toContain('browser test');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-override-saved.png'), fullPage: true });

    // The override is live for that address: its third request is refused.
    const limited: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${dev.url}/items`, { headers: { 'CF-Connecting-IP': '198.51.100.78' } });
      await response.arrayBuffer();
      limited.push(response.status);
    }
    expect(limited).toEqual([200, 200, 429]);

    const lookup = page.locator('#lookup-form');
    await lookup.locator('select[name=rule]').selectOption('per-ip');
    await lookup.locator('select[name=by]').selectOption('ip');
    await lookup.locator('input[name=value]').fill(ip);
    await lookup.locator('button[type=submit]').click();
    await page.waitForSelector('#lookup-result');
    expect(await page.textContent('#lookup-result')).toContain('0 of 10');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-key-lookup.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('keeps a refused form as typed with the error beside the field, redirects a good post so a reload does not post again, cancels an edit, fits 390 px and signs out', async () => {
    const page = await browser.newPage();
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
    });
    await page.goto(`${dev.url}/_ratelimit/dashboard`);
    await page.fill('#token', TOKEN);
    await page.click('#sign-in');
    await page.waitForSelector('#rules');

    // A bad window: 400, the form as typed, the error beside the field and named as the form labels it.
    const override = page.locator('#override-form');
    await override.locator('select[name=rule]').selectOption('per-ip');
    await override.locator('input[name=value]').fill('198.51.100.90');
    await override.locator('input[name=limit]').fill('5');
    await override.locator('input[name=window]').fill('soon');
    await override.locator('input[name=reason]').fill('typed once');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      override.locator('button[type=submit]').click(),
    ]);
    expect(refused.status()).toBe(400);
    await page.waitForSelector('#override-form-window-error');
    expect(await page.textContent('#override-form-window-error')).toMatch(/^Window: /);
    expect(await page.locator('#override-form input[name=value]').inputValue()).toBe('198.51.100.90');
    expect(await page.locator('#override-form input[name=window]').inputValue()).toBe('soon');
    expect(await page.locator('#override-form input[name=reason]').inputValue()).toBe('typed once');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-field-error.png'), fullPage: true });

    // A good post redirects (303) to the page, which shows what was done once.
    await page.locator('#override-form input[name=window]').fill('1m');
    const [saved] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.locator('#override-form button[type=submit]').click(),
    ]);
    expect(saved.status()).toBe(303);
    await page.waitForSelector('#notice');
    expect(new URL(page.url()).pathname).toBe('/_ratelimit/dashboard');
    expect(await page.textContent('#notice')).toContain('Saved override:per-ip:key:198.51.100.90');
    const postsBeforeReload = posts.length;
    await page.reload();
    await page.waitForSelector('#rules');
    expect(posts.length).toBe(postsBeforeReload);
    expect(await page.locator('#notice').count()).toBe(0);

    // Cancel an edit: the form is empty again and says so.
    await page.locator('#overrides a.edit').first().click();
    await page.waitForSelector('#cancel-edit');
    expect(await page.textContent('#override-form button[type=submit]')).toBe('Save changes');
    await page.click('#cancel-edit');
    await page.waitForSelector('#override-form');
    expect(await page.locator('#cancel-edit').count()).toBe(0);
    expect(await page.textContent('#override-form button[type=submit]')).toBe('Save override');
    expect(await page.locator('#override-form input[name=value]').inputValue()).toBe('');

    // A phone-sized window: nothing scrolls sideways, with a key looked up and an override listed.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${dev.url}/_ratelimit/dashboard?rule=per-ip&by=ip&value=198.51.100.90`);
    await page.waitForSelector('#lookup-result');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-390px.png'), fullPage: true });

    // Sign out: back to the sign-in form, and the page asks again.
    await page.click('#sign-out');
    await page.waitForSelector('#token');
    await page.goto(`${dev.url}/_ratelimit/dashboard`);
    expect(await page.locator('#token').count()).toBe(1);
    expect(await page.locator('#rules').count()).toBe(0);
    await page.close();
  }, 120_000);
});
