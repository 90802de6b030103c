import { describe, expect, it } from 'vitest';
import { deliverNotifications, LAST_FAILURE_ROW, retryDelaySeconds } from './deliver';
import type { ThresholdEvent } from './event';
import { SIGNATURE_HEADER, verifySignature } from './signature';

const NOW = 1_800_000_000_000;
const event: ThresholdEvent = {
  type: 'quota.threshold',
  id: 'k:api/month:0:80',
  rule: 'api',
  limit: 'month',
  quota: 100,
  threshold: 80,
  used: 80,
  periodStart: '2027-01-01T00:00:00.000Z',
  periodEnd: '2027-02-01T00:00:00.000Z',
  key: 'k',
  subject: 'cust-1',
  occurredAt: '2027-01-20T00:00:00.000Z',
};

function batchOf(attempts: number) {
  const seen: Array<{ acked?: true; retry?: number }> = [];
  const message = {
    id: 'm1',
    body: event,
    attempts,
    timestamp: new Date(NOW),
    ack: () => seen.push({ acked: true }),
    retry: (o?: { delaySeconds?: number }) => seen.push({ retry: o?.delaySeconds ?? 0 }),
  };
  const batch = {
    queue: 'q',
    messages: [message],
    ackAll: () => seen.push({ acked: true }),
    retryAll: () => undefined,
  } as unknown as MessageBatch<ThresholdEvent>;
  return { batch, seen };
}

function kv() {
  const rows = new Map<string, string>();
  return { rows, ns: { put: async (k: string, v: string) => void rows.set(k, v) } as unknown as KVNamespace };
}

describe('deliverNotifications', () => {
  it('POSTs the event signed with the secret and acknowledges a 2xx', async () => {
    const { batch, seen } = batchOf(1);
    const requests: Request[] = [];
    await deliverNotifications(
      batch,
      { NOTIFY_WEBHOOK_URL: 'https://hooks.example/q', NOTIFY_WEBHOOK_SECRET: 'whsec' },
      { now: () => NOW, fetch: async (input, init) => (requests.push(new Request(input, init)), new Response(null, { status: 204 })) },
    );
    expect(seen).toEqual([{ acked: true }]);
    const body = await requests[0]!.text();
    expect(JSON.parse(body)).toEqual(event);
    expect(await verifySignature('whsec', body, requests[0]!.headers.get(SIGNATURE_HEADER), NOW)).toBe(true);
  });

  it('retries a failure with backoff and records it as the last failure', async () => {
    const { batch, seen } = batchOf(3);
    const store = kv();
    await deliverNotifications(
      batch,
      { NOTIFY_WEBHOOK_URL: 'https://hooks.example/q', NOTIFY_WEBHOOK_SECRET: 'whsec', RATE_LIMIT_CONFIG: store.ns },
      { now: () => NOW, fetch: async () => new Response('down', { status: 503 }) },
    );
    expect(seen).toEqual([{ retry: 40 }]);
    expect(JSON.parse(store.rows.get(LAST_FAILURE_ROW)!)).toEqual({
      at: new Date(NOW).toISOString(),
      eventId: event.id,
      attempt: 3,
      error: 'HTTP 503',
      retrying: true,
    });
  });

  it('records an unreachable webhook, and the last attempt as not retried', async () => {
    const { batch } = batchOf(9);
    const store = kv();
    await deliverNotifications(
      batch,
      { NOTIFY_WEBHOOK_URL: 'https://hooks.example/q', NOTIFY_WEBHOOK_SECRET: 'whsec', RATE_LIMIT_CONFIG: store.ns },
      { now: () => NOW, fetch: async () => Promise.reject(new TypeError('connection refused')) },
    );
    expect(JSON.parse(store.rows.get(LAST_FAILURE_ROW)!)).toMatchObject({ error: 'TypeError: connection refused', retrying: false });
  });

  it('drops events rather than send them unsigned', async () => {
    const { batch, seen } = batchOf(1);
    let sent = 0;
    await deliverNotifications(batch, { NOTIFY_WEBHOOK_URL: 'https://hooks.example/q' }, { fetch: async () => (sent++, new Response()) });
    expect(sent).toBe(0);
    expect(seen).toEqual([{ acked: true }]);
  });

  it('backs off 10 s, doubling, up to 10 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 12].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 160, 320, 600, 600]);
  });
});
