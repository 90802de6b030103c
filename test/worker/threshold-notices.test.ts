import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LimitRequest } from '../../src/algorithms/decide';
import { NOTICE_PREFIX, ThresholdNotices } from '../../src/durable-object/threshold-notices';
import type { ThresholdEvent } from '../../src/notifications/event';
import { type KeyDigester, keyDigester } from '../../src/observability/key-digest';

const T0 = Date.now() + 86_400_000;
const monthly: LimitRequest = {
  id: 'api/month',
  config: {
    algorithm: 'fixed-window',
    limit: 100,
    windowMs: 30 * 86_400_000,
    period: { unit: 'month', anchor: '2026-03-17' },
    notify: [80, 100],
  },
  cost: 1,
  countRefused: false,
  shadow: false,
};

/** A key's object whose notices go to a list instead of the queue. */
async function objectWithQueue(name: string, digester: KeyDigester = keyDigester(undefined)) {
  const stub = env.RATE_LIMITER.getByName(name);
  const sent: ThresholdEvent[] = [];
  const pending: Array<Promise<unknown>> = [];
  await runInDurableObject(stub, (instance, state) => {
    (instance as unknown as { notices: ThresholdNotices }).notices = new ThresholdNotices(
      state.storage.kv,
      name,
      { send: async (e) => void sent.push(e) },
      (p) => pending.push(p),
      digester,
    );
  });
  return { stub, sent, settled: () => Promise.all(pending) };
}

describe("near-limit notices in the key's object", () => {
  it('200 concurrent requests crossing 80 % and 100 % announce each threshold exactly once, naming the subject and not the key', async () => {
    const subject = `cust-${crypto.randomUUID()}`;
    const { stub, sent, settled } = await objectWithQueue(`{"identity":"subject"}=${subject}`);
    const decisions = await Promise.all(Array.from({ length: 200 }, (_, i) => stub.check({ now: T0 + i, limits: [monthly] })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(100);
    await settled();
    expect(sent.map((e) => e.threshold).sort((a, b) => a - b)).toEqual([80, 100]);
    for (const e of sent) {
      expect(e).toMatchObject({ type: 'quota.threshold', rule: 'api', limit: 'month', quota: 100, used: e.threshold, subject });
      expect(e.key).toMatch(/^[0-9a-f]{16}$/);
      expect(new Date(e.periodEnd).getUTCDate()).toBe(17);
    }
    // The row saying so is stored: an object that restarts does not announce them again.
    const stored = await runInDurableObject(stub, (_i, state) => state.storage.kv.get<{ sent: number[] }>(`${NOTICE_PREFIX}api/month`));
    expect(stored?.sent).toEqual([80, 100]);
  });

  it('a plan changed mid-period announces nothing twice, and a higher limit announces its thresholds when reached', async () => {
    const { stub, sent, settled } = await objectWithQueue(`{"identity":"subject"}=cust-${crypto.randomUUID()}`);
    for (let i = 0; i < 85; i++) await stub.check({ now: T0 + i, limits: [monthly] });
    const upgraded = { ...monthly, config: { ...monthly.config, limit: 200 } };
    for (let i = 0; i < 80; i++) await stub.check({ now: T0 + 100 + i, limits: [upgraded] });
    await settled();
    // 80 of 100 first; then 160 of 200 is the upgraded plan's 80 %, already announced this period.
    expect(sent.map((e) => [e.threshold, e.quota, e.used])).toEqual([[80, 100, 80]]);
    for (let i = 0; i < 40; i++) await stub.check({ now: T0 + 200 + i, limits: [upgraded] });
    await settled();
    expect(sent.map((e) => [e.threshold, e.quota, e.used])).toEqual([
      [80, 100, 80],
      [100, 200, 200],
    ]);
  });

  it('names the key by the HMAC digest under KEY_DIGEST_SECRET, the one log lines use, in the event and its id', async () => {
    const secret = 'threshold-notices-test-secret-of-32-bytes-or-more';
    const name = `{"identity":"subject"}=cust-${crypto.randomUUID()}`;
    const { stub, sent, settled } = await objectWithQueue(name, keyDigester(secret));
    for (let i = 0; i < 80; i++) await stub.check({ now: T0 + i, limits: [monthly] });
    await settled();
    const digest = createHmac('sha256', secret).update(name).digest('hex').slice(0, 16);
    expect(sent.map((e) => e.key)).toEqual([digest]);
    expect(sent[0]!.id.startsWith(`${digest}:api/month:`)).toBe(true);
  });
});
