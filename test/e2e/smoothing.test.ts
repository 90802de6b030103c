import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

/** An origin that notes when each request reaches it, by path. */
async function recordingOrigin(): Promise<{ server: Server; url: string; reached: Array<{ path: string; at: number }> }> {
  const reached: Array<{ path: string; at: number }> = [];
  const server = createServer((req, res) => {
    reached.push({ path: req.url ?? '', at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json', 'x-recording-origin': '1' });
    res.end('{"origin":"recording"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, reached };
}

let dev: DevServer;
let origin: Awaited<ReturnType<typeof recordingOrigin>>;
beforeAll(async () => {
  origin = await recordingOrigin();
  dev = await startDev([], { ORIGIN_URL: origin.url });
});
afterAll(async () => {
  await dev?.stop();
  await new Promise((r) => origin?.server.close(r));
});

const get = (path: string, ip: string) => fetch(`${dev.url}${path}`, { headers: { 'CF-Connecting-IP': ip } });
const reachedUnder = (prefix: string) => origin.reached.filter((r) => r.path.startsWith(prefix));

// The example policy's `paced` rule: 5 a second per address (one every 200 ms), bursts of 2, held up to 1 s, 4 waiting per address.
const INTERVAL_MS = 200;

describe('smoothing under wrangler dev, in front of a real origin', () => {
  it('spreads a burst beyond the allowance out: the origin sees every admitted request, never faster than the pace; beyond the bounds, 429', async () => {
    // Sent at once. On an idle machine they arrive together: two at once, four held (200 to 800 ms), the rest refused (the
    // address's queue holds four; the workerd tests check those exact counts). On a busy one they arrive spread out, and
    // places free as waits end, so only what holds however they arrive is checked here.
    const started = Date.now();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/paced/burst/${i}`, '203.0.113.80')));
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const admitted = statuses.filter((s) => s === 200).length;
    // More than the burst got through (some were held), and not all of them: a wait may not pass 1 s.
    expect(admitted).toBeGreaterThan(2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    // The origin saw exactly the admitted ones, each once.
    const reached = reachedUnder('/paced/burst/');
    expect(reached).toHaveLength(admitted);
    expect(new Set(reached.map((r) => r.path)).size).toBe(admitted);
    // Spaced by the pace: the object reserves each held request a time no sooner than its turn, and the worker holds it
    // at least that long, so however the requests arrive, the (2 + k)-th to reach the origin does so no sooner than k
    // intervals after the burst was sent. (Between two given arrivals the spacing can be shorter: forwarding times vary.)
    const at = reached.map((r) => r.at).sort((a, b) => a - b);
    for (let k = 1; k < at.length - 1; k++) expect(at[1 + k]! - started).toBeGreaterThanOrEqual(k * INTERVAL_MS - 20);
    for (const refused of responses.filter((r) => r.status === 429)) {
      expect(refused.headers.get('x-recording-origin')).toBeNull();
      expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get('RateLimit')).toMatch(/^"paced\/1s";r=0;t=\d+$/);
      expect(refused.headers.get('RateLimit-Policy')).toBe('"paced/1s";q=2;w=1');
    }
  });

  it('lets a client sending one request after another through every time, each waiting its turn', async () => {
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(`/paced/steady/${i}`, '203.0.113.81')).status);
    expect(statuses).toEqual(Array(6).fill(200));
    const reached = reachedUnder('/paced/steady/');
    expect(reached.map((r) => r.path)).toEqual(Array.from({ length: 6 }, (_, i) => `/paced/steady/${i}`));
    // Never faster than the pace: after the burst of two, the k-th reached the origin no sooner than k intervals after the first was sent.
    for (let k = 1; k <= 4; k++) expect(reached[1 + k]!.at - started).toBeGreaterThanOrEqual(k * INTERVAL_MS - 20);
  });
});
