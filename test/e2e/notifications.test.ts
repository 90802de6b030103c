import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, freePort, startDev } from './support/wrangler-dev';

const SECRET = `whsec_${crypto.randomUUID()}`;
const ADMIN = `admin_${crypto.randomUUID()}`;

/** A webhook receiver that checks each signature on its own (node:crypto), fails its first delivery, and keeps what it accepted. */
async function startReceiver() {
  const accepted: Array<Record<string, unknown>> = [];
  let deliveries = 0;
  let badSignatures = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      deliveries++;
      const header = String(req.headers['x-ratelimit-signature'] ?? '');
      const { t, v1 } = Object.fromEntries(header.split(',').map((p) => p.split('=', 2))) as { t?: string; v1?: string };
      const wanted = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
      const fresh = Math.abs(Date.now() / 1000 - Number(t)) <= 300;
      if (!v1 || v1.length !== wanted.length || !timingSafeEqual(Buffer.from(v1), Buffer.from(wanted)) || !fresh) {
        badSignatures++;
        res.writeHead(401).end();
        return;
      }
      // The first delivery fails: the queue must retry it.
      if (deliveries === 1) {
        res.writeHead(503).end();
        return;
      }
      accepted.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}/hooks/ratelimit`,
    accepted,
    stats: () => ({ deliveries, badSignatures }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let dev: DevServer;

beforeAll(async () => {
  receiver = await startReceiver();
  dev = await startDev([], { POLICY: 'quotas', ADMIN_TOKEN: ADMIN, NOTIFY_WEBHOOK_URL: receiver.url, NOTIFY_WEBHOOK_SECRET: SECRET });
});

afterAll(async () => {
  await dev?.stop();
  await receiver?.close();
});

async function until(check: () => boolean, ms: number) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
}

describe('near-limit notifications under wrangler dev', { timeout: 120_000 }, () => {
  it('200 concurrent requests crossing 80 % and 100 % of a monthly quota emit exactly one signed event per threshold', async () => {
    const token = `sk_live_${crypto.randomUUID()}`;
    const subject = `cust-${crypto.randomUUID().slice(0, 8)}`;
    const put = await fetch(`${dev.url}/_ratelimit/identities`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json', 'CF-Connecting-IP': '192.0.2.10' },
      body: JSON.stringify({ credential: token, subject, tier: 'pro', billingAnchor: '2026-03-17T00:00:00Z' }),
    });
    expect(put.status).toBe(200);

    const statuses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const response = await fetch(`${dev.url}/v1/items/${i}`, {
          headers: { Authorization: `Bearer ${token}`, 'CF-Connecting-IP': `192.0.2.${(i % 200) + 20}` },
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(100);

    // Two events, one of them retried after the receiver's failure (10 s backoff).
    await until(() => receiver.accepted.length >= 2, 60_000);
    // Anything more would arrive in this time.
    await new Promise((r) => setTimeout(r, 3_000));
    const events = receiver.accepted.filter((e) => e.subject === subject);
    expect(events.map((e) => e.threshold).sort((a, b) => Number(a) - Number(b))).toEqual([80, 100]);
    expect(receiver.stats().badSignatures).toBe(0);
    expect(receiver.stats().deliveries).toBe(3);
    for (const event of events) {
      expect(event).toMatchObject({ type: 'quota.threshold', rule: 'api', limit: 'month', quota: 100, subject });
      expect(Number(event.used)).toBe(Number(event.threshold));
      // The period ends on the 17th, the customer's billing day.
      expect(new Date(String(event.periodEnd)).getUTCDate()).toBe(17);
      expect(JSON.stringify(event)).not.toContain(token);
    }
  });
});
