import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

/** The one token the origin knows; every other credential gets 401, as a real API answers made-up keys. */
const KNOWN = 'Bearer e2e-known-token';

let origin: Server;
let seen = 0;
let dev: DevServer;

beforeAll(async () => {
  origin = createServer((req, res) => {
    seen++;
    req.resume();
    req.on('end', () => {
      const known = req.headers.authorization === KNOWN;
      res.writeHead(known ? 200 : 401, { 'content-type': 'application/json', 'x-auth-origin': '1' });
      res.end(JSON.stringify(known ? { ok: true } : { error: 'unknown token' }));
    });
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  const { port } = origin.address() as { port: number };
  dev = await startDev([], { ORIGIN_URL: `http://127.0.0.1:${port}` });
});
afterAll(async () => {
  await dev?.stop();
  await new Promise((r) => origin?.close(r));
});

const get = (path: string, ip: string, authorization?: string) =>
  fetch(`${dev.url}${path}`, { headers: { 'CF-Connecting-IP': ip, ...(authorization ? { Authorization: authorization } : {}) } });

/** The example policy's auth-failure count of an address, as its quota endpoint reports it once spent (the rule is quiet until then). */
async function failuresSpent(ip: string): Promise<boolean> {
  const report = (await (await get('/.well-known/ratelimit', ip)).json()) as { limits: Array<{ rule: string; remaining: number }> };
  return report.limits.some((l) => l.rule === 'auth-failures' && l.remaining === 0);
}

describe('wrangler dev with the example policy in front of an origin that answers 401 to unknown tokens', () => {
  it('refuses an address at the edge after 20 failed authentications, while another address is unaffected', async () => {
    const guesser = '203.0.113.80';
    for (let i = 0; i < 20; i++) {
      const response = await get('/api/things', guesser, `Bearer guess-${crypto.randomUUID()}`);
      expect(response.status).toBe(401);
      expect(response.headers.get('x-auth-origin')).toBe('1');
      await response.arrayBuffer();
    }
    // The count is charged once each response is out (after the origin answered): wait until the object has the 20th.
    for (let attempt = 0; !(await failuresSpent(guesser)); attempt++) {
      expect(attempt).toBeLessThan(40);
      await new Promise((r) => setTimeout(r, 250));
    }
    const seenBefore = seen;
    const refused = await get('/api/things', guesser, `Bearer guess-${crypto.randomUUID()}`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-auth-origin')).toBeNull();
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(refused.headers.get('RateLimit')).toContain('"auth-failures/10m";r=0');
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/^Too many failed authentications from your address/);
    // The address is refused whatever it sends now, the known token included, and the origin hears none of it.
    expect((await get('/api/things', guesser, KNOWN)).status).toBe(429);
    expect(seen).toBe(seenBefore);

    // Another address: the known token gets through, a guess is answered by the origin.
    const other = '203.0.113.81';
    expect((await get('/api/things', other, KNOWN)).status).toBe(200);
    const guess = await get('/api/things', other, `Bearer guess-${crypto.randomUUID()}`);
    expect(guess.status).toBe(401);
    expect(guess.headers.get('x-auth-origin')).toBe('1');
  });
});
