import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

// Each preset runs as its own wrangler environment, driven end to end here.
let fluidcloud: DevServer;
let keygen: DevServer;
let cloudsmith: DevServer;
let rubygems: DevServer;
beforeAll(async () => {
  [fluidcloud, keygen, cloudsmith, rubygems] = await Promise.all([
    startDev(['--env', 'fluidcloud']),
    startDev(['--env', 'keygen']),
    startDev(['--env', 'cloudsmith']),
    startDev(['--env', 'rubygems']),
  ]);
}, 180_000);
afterAll(async () => {
  await Promise.all([fluidcloud?.stop(), keygen?.stop(), cloudsmith?.stop(), rubygems?.stop()]);
});

async function send(url: string, init: RequestInit) {
  const response = await fetch(url, init);
  const body = await response.text();
  return { status: response.status, headers: response.headers, body };
}

describe('presets under wrangler dev --env', () => {
  it('fluidcloud: 30 URL imports a minute per key, then 429 with Retry-After up to the roll-over and the detail body', async () => {
    const init = { method: 'POST', headers: { 'X-API-Key': 'fck_live_e2e', 'CF-Connecting-IP': '203.0.113.60' } };
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof send>> | undefined;
    // Stay inside one fixed minute, so the roll-over cannot land mid-run.
    if (60_000 - (Date.now() % 60_000) < 15_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 100));
    for (let i = 0; i < 31; i++) {
      last = await send(`${fluidcloud.url}/api/v1/uploads/import-url`, init);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(30).fill(200), 429]);
    const wait = Number(last!.headers.get('Retry-After'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(JSON.parse(last!.body)).toEqual({ detail: 'Too many requests — please slow down and try again shortly.' });
    // The upload cap is counted apart.
    expect((await send(`${fluidcloud.url}/api/v1/uploads`, init)).status).toBe(200);
  }, 90_000);

  it('keygen: names the window and answers a JSON:API error once an IP has made 60 requests', async () => {
    const headers = { 'CF-Connecting-IP': '203.0.113.61' };
    if (30_000 - (Date.now() % 30_000) < 10_000) await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 100));
    // The first call wakes the key's object (and may fail open on a busy machine); the second shows the headers.
    await send(`${keygen.url}/v1/me`, { headers });
    const second = await send(`${keygen.url}/v1/me`, { headers });
    expect(second.headers.get('X-RateLimit-Window')).toBe('30s');
    expect(second.headers.get('X-RateLimit-Limit')).toBe('60');
    let last = second;
    for (let i = 0; i < 70 && last.status !== 429; i++) last = await send(`${keygen.url}/v1/me`, { headers });
    expect(last.status).toBe(429);
    expect(last.headers.get('Content-Type')).toBe('application/vnd.api+json');
    expect(JSON.parse(last.body).errors[0].code).toBe('TOO_MANY_REQUESTS');
  }, 90_000);

  it("cloudsmith: anonymous callers see 1,800 an hour with Cloudsmith's headers, and can read their quota", async () => {
    const headers = { 'CF-Connecting-IP': '203.0.113.62' };
    // The first call wakes the key's object (and may fail open on a busy machine); the next ones show the headers.
    await send(`${cloudsmith.url}/user/self/`, { headers });
    const second = await send(`${cloudsmith.url}/user/self/`, { headers });
    const third = await send(`${cloudsmith.url}/user/self/`, { headers });
    expect([second.status, third.status]).toEqual([200, 200]);
    expect(third.headers.get('X-RateLimit-Limit')).toBe('1800');
    const remaining = Number(third.headers.get('X-RateLimit-Remaining'));
    expect(remaining).toBe(Number(second.headers.get('X-RateLimit-Remaining')) - 1);
    expect(Number(third.headers.get('X-RateLimit-Reset')) % 3600).toBe(0);
    expect(Number(third.headers.get('X-RateLimit-Interval'))).toBeGreaterThan(0);
    const quota = JSON.parse((await send(`${cloudsmith.url}/.well-known/ratelimit`, { headers })).body);
    expect(quota.limits).toContainEqual(expect.objectContaining({ rule: 'api-anonymous', limit: 1800, used: 1800 - remaining }));
  }, 60_000);

  it("rubygems: 10 requests a second per IP, then rack-attack's 429 with Retry-After", async () => {
    const headers = { 'CF-Connecting-IP': '203.0.113.63' };
    // Start at the top of a second, so the eleven requests fall in one window.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 11; i++) {
      last = await send(`${rubygems.url}/api/v1/gems/rails.json`, { headers });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses[10]).toBe(429);
    expect(last!.headers.get('Retry-After')).toBe('1');
    expect(last!.body).toBe('Retry later\n');
  }, 60_000);
});
