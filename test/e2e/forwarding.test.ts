import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

/**
 * The headers the origin received for a request sent with exactly these
 * headers (node:http, so hop-by-hop headers can be sent too). With a body,
 * the request is a chunked POST, the framing `Trailer` and `TE` belong to.
 */
function originReceived(base: string, headers: Record<string, string>, body?: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/headers`, { method: body === undefined ? 'GET' : 'POST', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}: ${body}`));
        resolve((JSON.parse(body) as { headers: Record<string, string> }).headers);
      });
    });
    req.on('error', reject);
    if (body !== undefined) {
      req.write(body);
      req.addTrailers({ 'X-Checksum': 'c0ffee' });
    }
    req.end();
  });
}

const SPOOFED = { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.7', Forwarded: 'for=6.6.6.8' };
const told = (h: Record<string, string>) => ({ xff: h['x-forwarded-for'], realIp: h['x-real-ip'], forwarded: h.forwarded });

describe('the standalone worker under wrangler dev, with the default policy', () => {
  let dev: DevServer;
  beforeAll(async () => {
    dev = await startDev();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it('tells the origin the client address in X-Forwarded-For and X-Real-IP', async () => {
    expect(told(await originReceived(dev.url, { 'CF-Connecting-IP': '203.0.113.80' }))).toEqual({
      xff: '203.0.113.80',
      realIp: '203.0.113.80',
      forwarded: undefined,
    });
  });

  it('tells the origin an address when the client sends none of its own (npm start)', async () => {
    const { xff, realIp } = told(await originReceived(dev.url, {}));
    expect(xff).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(realIp).toBe(xff);
  });

  it('never lets a spoofed X-Forwarded-For, X-Real-IP or Forwarded reach the origin', async () => {
    const headers = await originReceived(dev.url, { ...SPOOFED, 'CF-Connecting-IP': '2001:db8::81' });
    expect(told(headers)).toEqual({ xff: '2001:db8::81', realIp: '2001:db8::81', forwarded: undefined });
    expect(JSON.stringify(headers)).not.toMatch(/6\.6\.6/);
  });

  it('drops hop-by-hop headers and Proxy-Authorization', async () => {
    const headers = await originReceived(
      dev.url,
      {
        'CF-Connecting-IP': '203.0.113.82',
        Connection: 'keep-alive, Upgrade',
        Upgrade: 'h2c',
        'Keep-Alive': 'timeout=5',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        Trailer: 'X-Checksum',
        'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
        'X-Kept': 'end-to-end',
      },
      'a chunked body',
    );
    for (const name of ['upgrade', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'proxy-authorization'])
      expect(headers[name], name).toBeUndefined();
    expect(headers['x-kept']).toBe('end-to-end');
  });
});

describe('a library worker under wrangler dev whose policy trusts a proxy and asks for Forwarded', () => {
  let dev: DevServer;
  beforeAll(async () => {
    dev = await startDev(['--config', 'test/support/forwarding-worker/wrangler.toml']);
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it("keeps the proxy's X-Forwarded-For chain, appends the address the limiter used, and tells it in X-Real-IP and Forwarded", async () => {
    const headers = await originReceived(dev.url, {
      ...SPOOFED,
      'CF-Connecting-IP': '10.0.0.1',
      'X-Forwarded-For': '6.6.6.6, [2001:db8::90]:443',
    });
    expect(told(headers)).toEqual({
      xff: '6.6.6.6, [2001:db8::90]:443, 2001:db8::90',
      realIp: '2001:db8::90',
      forwarded: 'for="[2001:db8::90]"',
    });
  });

  it('reads a proxy hop written with a port, so each client behind the proxy has its own budget', async () => {
    const from = (hop: string) =>
      fetch(`${dev.url}/counted`, { headers: { 'CF-Connecting-IP': '10.0.0.1', 'X-Forwarded-For': hop } }).then((r) => r.status);
    const statuses: number[] = [];
    for (const port of [1234, 1235, 1236, 1237]) statuses.push(await from(`198.51.100.10:${port}`));
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await from('198.51.100.11:1234')).toBe(200);
    expect(await from('[2001:db8::91]:443')).toBe(200);
    const received = await originReceived(dev.url, { 'CF-Connecting-IP': '10.0.0.1', 'X-Forwarded-For': '198.51.100.12:1234' });
    expect([received['x-real-ip'], received.forwarded]).toEqual(['198.51.100.12', 'for=198.51.100.12']);
  });
});
