import { describe, expect, it } from 'vitest';
import { LeaseCache } from '../../../src/engine/lease-cache';
import { freshIp, from, testApp } from './harness';

/** A pinned clock two days ahead, so no window ends during a test. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 1_800_000;

describe('a lease call that never settles', () => {
  it('frees the requests waiting on it after the wait bound, and stops holding later requests back', async () => {
    const leases = new LeaseCache(10, 20);
    const calls: string[] = [];
    // The asking request is gone (cancelled, or its context ended): its call never settles.
    void leases.single('k', () => {
      calls.push('first');
      return new Promise<string>(() => {});
    });
    // A waiter is released by its own timer instead of waiting forever.
    expect(await leases.single('k', async () => 'never asked')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 25));
    // Past the bound, the stale call no longer counts: the next request asks itself.
    expect(await leases.single('k', async () => (calls.push('second'), 'granted'))).toBe('granted');
    expect(calls).toEqual(['first', 'second']);
  });
});

describe('leases from a real key object', () => {
  it('are granted through the object`s RPC stub: exact admission and no fault', async () => {
    const app = testApp(
      {
        name: 'hot',
        onError: { mode: 'open', timeoutMs: 10_000 },
        rules: [{ name: 'hot', key: 'ip', lease: { size: 2, ttl: '1s' }, limits: [{ limit: 3, window: '1h' }] }],
      },
      { now: () => T0 },
    );
    const ip = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await app.request('/x', from(ip))).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(app.metrics.snapshot().counts.hot).not.toHaveProperty('fail_open');
  });
});
