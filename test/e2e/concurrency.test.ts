import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

/**
 * A slow origin that counts the reports it is answering at once: a report's
 * headers and first line come at once, its end `HOLD_MS` later (or
 * `?hold=<ms>`); a request stops counting when its connection ends either
 * way (answered or aborted).
 */
const HOLD_MS = 1500;
const origin = {
  inFlight: 0,
  maxInFlight: 0,
  served: 0,
  closed: 0,
  onClose: [] as Array<() => void>,
};

function startCountingOrigin(): Promise<Server> {
  const server = createServer((req, res: ServerResponse) => {
    if (!req.url?.startsWith('/reports/')) return res.end('ok');
    origin.served++;
    origin.inFlight++;
    origin.maxInFlight = Math.max(origin.maxInFlight, origin.inFlight);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('report started\n');
    const hold = Number(new URL(req.url, 'http://origin').searchParams.get('hold') ?? HOLD_MS);
    const timer = setTimeout(() => res.end('report done\n'), hold);
    res.on('close', () => {
      clearTimeout(timer);
      origin.inFlight--;
      origin.closed++;
      for (const wake of origin.onClose.splice(0)) wake();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Resolves once the origin has seen `count` connections end in all. */
async function originClosed(count: number): Promise<void> {
  while (origin.closed < count) await new Promise<void>((wake) => origin.onClose.push(wake));
}

let dev: DevServer;
beforeAll(async () => {
  dev = await startDev([], {}, startCountingOrigin());
});
afterAll(async () => {
  await dev?.stop();
});

const report = (ip: string, path = '/reports/r', signal?: AbortSignal) =>
  // Uncompressed, so the first line is not held back in a compressor's buffer.
  fetch(`${dev.url}${path}`, { headers: { 'CF-Connecting-IP': ip, 'Accept-Encoding': 'identity' }, ...(signal ? { signal } : {}) });

describe('the example policy’s concurrency limit under wrangler dev', () => {
  it('lets at most 2 of 50 concurrent slow clients reach the origin at once; the others get a concurrency 429', async () => {
    const ip = '203.0.113.80';
    const responses = await Promise.all(Array.from({ length: 50 }, () => report(ip)));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(48);
    expect(origin.maxInFlight).toBeLessThanOrEqual(2);
    expect(origin.served).toBe(2);
    expect(bodies.filter((b) => b === 'report started\nreport done\n')).toHaveLength(2);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get('RateLimit-Reason')).toBe('concurrency');
    expect(refused.headers.get('RateLimit-Policy')).toContain('"reports/concurrent";q=2;qu="concurrent-requests"');
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    // Both slots came back when the bodies ended: two more are admitted at once.
    await originClosed(2);
    const again = await Promise.all([report(ip), report(ip), report(ip)]);
    expect(again.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    await Promise.all(again.map((r) => r.text()));
    expect(origin.maxInFlight).toBeLessThanOrEqual(2);
  });

  it('gives the slots of clients that abort mid-response back: the key admits 2 again, long before the 60 s lease', async () => {
    const ip = '203.0.113.81';
    const before = origin.closed;
    const controllers = [new AbortController(), new AbortController()];
    const held = await Promise.all(controllers.map((c) => report(ip, '/reports/r?hold=3000', c.signal)));
    expect(held.map((r) => r.status)).toEqual([200, 200]);
    // Mid-response: the first line has arrived, the origin has not finished.
    for (const response of held) {
      const first = await response.body!.getReader().read();
      expect(new TextDecoder().decode(first.value)).toBe('report started\n');
    }
    expect((await report(ip)).status).toBe(429);
    for (const c of controllers) c.abort();
    // Under wrangler dev, its proxy reads an abandoned body to its end, so the worker sees the body end (on
    // Cloudflare, and under plain workerd, the client's disconnect cancels the body at once); either way the
    // slot is given back then, not when its 60 s lease ends.
    await originClosed(before + 2);
    // The release is one object call after the body ended: wait for it by asking, a bounded number of times.
    let admitted = false;
    for (let attempt = 0; attempt < 20 && !admitted; attempt++) {
      const probe = await report(ip, '/reports/r?probe');
      await probe.text();
      admitted = probe.status === 200;
      if (!admitted) await new Promise((r) => setTimeout(r, 250));
    }
    expect(admitted).toBe(true);
    // The probe's own slot is back too: both slots are free.
    const again = await Promise.all([report(ip), report(ip), report(ip)]);
    expect(again.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    await Promise.all(again.map((r) => r.text()));
  });
});
