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
  it('spreads a burst beyond the allowance out: the origin sees the held requests one interval apart; beyond the queue, 429', async () => {
    const started = Date.now();
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`/paced/burst/${i}`, '203.0.113.80')));
    const statuses = responses.map((r) => r.status);
    // Two at once, four held (200, 400, 600 and 800 ms), two refused: the address's queue holds four.
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    const reached = reachedUnder('/paced/burst/');
    expect(reached).toHaveLength(6);
    // Each held request reached the origin no sooner than its turn: the k-th to arrive after the burst waited k intervals.
    const offsets = reached.map((r) => r.at - started).sort((a, b) => a - b);
    for (let k = 1; k <= 4; k++) expect(offsets[1 + k]!).toBeGreaterThanOrEqual(k * INTERVAL_MS - 20);
    // And within its bound (1 s), with generous slack for a shared machine.
    expect(offsets.at(-1)!).toBeLessThan(1000 + 5000);
    for (const refused of responses.filter((r) => r.status === 429)) {
      expect(refused.headers.get('x-recording-origin')).toBeNull();
      expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get('RateLimit')).toMatch(/^"paced\/1s";r=0;t=\d+$/);
      expect(refused.headers.get('RateLimit-Policy')).toBe('"paced/1s";q=2;w=1');
    }
  });

  it('lets a client sending one request after another through every time, each waiting its turn', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(`/paced/steady/${i}`, '203.0.113.81')).status);
    expect(statuses).toEqual(Array(6).fill(200));
    const reached = reachedUnder('/paced/steady/');
    expect(reached.map((r) => r.path)).toEqual(Array.from({ length: 6 }, (_, i) => `/paced/steady/${i}`));
    // Never faster than the pace allows: four requests from the third to the last span at least (4 - burst) intervals,
    // less some slack for forwarding times that vary on a shared machine.
    expect(reached[5]!.at - reached[2]!.at).toBeGreaterThanOrEqual(2 * INTERVAL_MS - 100);
  });
});
