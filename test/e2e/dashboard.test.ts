import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Chromium } from './support/chromium';
import { startDev, type DevServer } from './support/wrangler-dev';

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
});
