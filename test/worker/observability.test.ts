import { env } from 'cloudflare:workers';
import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keyDigester } from '../../src/observability/key-digest';
import type { PolicyInput } from '../../src/policy/schema';
import { freshIp, limitedApp, send } from '../support/app';
import { loggedLines } from '../support/log-lines';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 6 * 3_600_000;

const policy: PolicyInput = {
  name: 'observed',
  onError: { mode: 'open', timeoutMs: 10_000 },
  rules: [
    { name: 'per-ip', match: { paths: ['/enforced'] }, key: 'ip', limits: [{ limit: 1, window: '1m' }] },
    { name: 'trial', match: { paths: ['/trial'] }, key: 'ip', shadow: true, limits: [{ limit: 1, window: '1m' }] },
  ],
};

/** The limiter's JSON log lines written while `run` runs. */
const logged = async (run: () => Promise<void>) => (await loggedLines(run)).map((l) => JSON.parse(l) as Record<string, unknown>);

afterEach(() => vi.restoreAllMocks());

describe('observability', () => {
  it('writes one JSON line per refusal, from the object or the deny cache, with the rule, hashed key, limit and window', async () => {
    const points: unknown[] = [];
    const { app, limiter } = limitedApp({ policy, now: () => T0 });
    const bindings = { ...env, RATE_LIMIT_ANALYTICS: { writeDataPoint: (p: unknown) => void points.push(p) } };
    const ip = freshIp();
    const lines = await logged(async () => {
      for (let i = 0; i < 3; i++) await (await send(app, '/enforced', ip, {}, bindings)).arrayBuffer();
    });
    const refusals = lines.filter((l) => l.event === 'refused');
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toEqual({
      event: 'refused',
      rule: 'per-ip',
      key: expect.stringMatching(/^[0-9a-f]{16}$/),
      limit: 1,
      window: '1m',
      windowMs: 60_000,
    });
    // The third request is answered from the deny cache, and logged all the same.
    expect(refusals[1]).toEqual({ ...refusals[0], cached: true, count: 1 });
    expect(JSON.stringify(lines)).not.toContain(ip);
    expect(limiter.handle.metrics.snapshot().counts['per-ip']).toEqual({ allowed: 1, refused: 2 });
    // Refusal points carry the key's digest, the one the log lines name.
    const digest = refusals[0]!.key as string;
    expect(points).toEqual([
      { blobs: ['per-ip', 'allowed'], doubles: [1], indexes: ['per-ip'] },
      { blobs: ['per-ip', 'refused', digest], doubles: [1], indexes: ['per-ip'] },
      { blobs: ['per-ip', 'refused', digest], doubles: [1], indexes: ['per-ip'] },
    ]);
  });

  it("writes refusal and shadow-refusal points with the key's digest (the one logs and the traffic record use), never the address", async () => {
    const points: Array<{ blobs?: string[]; doubles?: number[]; indexes?: string[] }> = [];
    const { app } = limitedApp({ policy, now: () => T0 });
    const bindings = { ...env, RATE_LIMIT_ANALYTICS: { writeDataPoint: (p: (typeof points)[number]) => void points.push(p) } };
    const ip = freshIp();
    await logged(async () => {
      for (const path of ['/enforced', '/enforced', '/trial', '/trial']) await (await send(app, path, ip, {}, bindings)).arrayBuffer();
    });
    const digest = await keyDigester(undefined).digest(`ip=${ip}`);
    expect(points).toEqual([
      { blobs: ['per-ip', 'allowed'], doubles: [1], indexes: ['per-ip'] },
      { blobs: ['per-ip', 'refused', digest], doubles: [1], indexes: ['per-ip'] },
      { blobs: ['trial', 'allowed'], doubles: [1], indexes: ['trial'] },
      { blobs: ['trial', 'shadow_refused', digest], doubles: [1], indexes: ['trial'] },
      { blobs: ['trial', 'allowed'], doubles: [1], indexes: ['trial'] },
    ]);
    expect(JSON.stringify(points)).not.toContain(ip);
  });

  it('with KEY_DIGEST_SECRET bound, names the key in refusal lines and points by its HMAC digest, not the unkeyed one', async () => {
    const secret = 'observability-test-secret-of-more-than-32-bytes';
    const points: Array<{ blobs?: string[] }> = [];
    const { app } = limitedApp({ policy, now: () => T0 });
    const bindings = {
      ...env,
      KEY_DIGEST_SECRET: secret,
      RATE_LIMIT_ANALYTICS: { writeDataPoint: (p: (typeof points)[number]) => void points.push(p) },
    };
    const ip = freshIp();
    const lines = await logged(async () => {
      for (let i = 0; i < 2; i++) await (await send(app, '/enforced', ip, {}, bindings)).arrayBuffer();
    });
    const hmac = createHmac('sha256', secret).update(`ip=${ip}`).digest('hex').slice(0, 16);
    const unkeyed = createHash('sha256').update(`ip=${ip}`).digest('hex').slice(0, 16);
    const [refusal] = lines.filter((l) => l.event === 'refused');
    expect(refusal?.key).toBe(hmac);
    expect(refusal?.key).not.toBe(unkeyed);
    expect(points.at(-1)).toEqual({ blobs: ['per-ip', 'refused', hmac], doubles: [1], indexes: ['per-ip'] });
    expect(lines.filter((l) => l.event === 'key_digest_unkeyed' || l.event === 'key_digest_secret_invalid')).toEqual([]);
  });

  it('with a KEY_DIGEST_SECRET too short to take, logs that, still refuses over the limit and names the key by the unkeyed digest', async () => {
    const { app } = limitedApp({ policy, now: () => T0 });
    const bindings = { ...env, KEY_DIGEST_SECRET: 'too-short' };
    const ip = freshIp();
    const statuses: number[] = [];
    const lines = await logged(async () => {
      for (let i = 0; i < 2; i++) {
        const response = await send(app, '/enforced', ip, {}, bindings);
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    });
    expect(statuses).toEqual([200, 429]);
    expect(lines.find((l) => l.event === 'key_digest_secret_invalid')).toMatchObject({ secret: 'KEY_DIGEST_SECRET' });
    expect(lines.find((l) => l.event === 'refused')?.key).toBe(createHash('sha256').update(`ip=${ip}`).digest('hex').slice(0, 16));
    expect(JSON.stringify(lines)).not.toContain('too-short');
  });

  it("writes a ban's point with the key's digest, also once the banned key's limits would allow it again", async () => {
    const points: Array<{ blobs?: string[] }> = [];
    let now = T0;
    const banning: PolicyInput = {
      name: 'banning',
      onError: { mode: 'open', timeoutMs: 10_000 },
      rules: [{ name: 'login', key: 'ip', limits: [{ limit: 1, window: '1m' }], ban: { after: 2, within: '1m', duration: '1h' } }],
    };
    const { app } = limitedApp({ policy: banning, now: () => now });
    const bindings = { ...env, RATE_LIMIT_ANALYTICS: { writeDataPoint: (p: (typeof points)[number]) => void points.push(p) } };
    const ip = freshIp();
    const statuses: number[] = [];
    await logged(async () => {
      for (const at of [T0, T0 + 1_000, T0 + 2_000, T0 + 5 * 60_000]) {
        now = at;
        const response = await send(app, '/login', ip, {}, bindings);
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    });
    const digest = await keyDigester(undefined).digest(`ip=${ip}`);
    expect(statuses).toEqual([200, 429, 403, 403]);
    // Five minutes on, the one-minute limit would allow the key: only the ban refuses it, and its point still names the key.
    expect(points.at(-1)).toEqual({ blobs: ['login', 'banned', digest], doubles: [1], indexes: ['login'] });
    expect(points.filter((p) => p.blobs?.[1] !== 'allowed').every((p) => p.blobs?.[2] === digest)).toBe(true);
  });

  it('folds a flood of refusals answered in the isolate into a line a second per key, each counting the refusals it stands for', async () => {
    let now = T0;
    const { app, limiter } = limitedApp({ policy, now: () => now });
    const ip = freshIp();
    const lines = await logged(async () => {
      for (let i = 0; i < 1_002; i++) {
        await (await send(app, '/enforced', ip)).arrayBuffer();
        now += 2; // 500 requests a second
      }
    });
    const refusals = lines.filter((l) => l.event === 'refused');
    // The second request is refused by the object; the third (at +4 ms) is the first cached one, written at once;
    // the 497 after it in that second are folded into the line at +1 s, which the 500 of the next second follow at +2 s.
    expect(refusals.map((l) => l.count ?? 'object')).toEqual(['object', 1, 498, 500]);
    expect(limiter.handle.metrics.snapshot().counts['per-ip']).toEqual({ allowed: 1, refused: 1_001 });
  });

  it('logs and counts what a shadow rule would refuse, and admits it', async () => {
    const { app, limiter } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    const statuses: number[] = [];
    const lines = await logged(async () => {
      for (let i = 0; i < 3; i++) {
        const response = await send(app, '/trial', ip);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    });
    expect(statuses).toEqual([200, 200, 200]);
    const wouldRefuse = lines.filter((l) => l.event === 'shadow_refused');
    expect(wouldRefuse).toHaveLength(2);
    expect(wouldRefuse[0]).toMatchObject({ rule: 'trial', limit: 1, window: '1m', windowMs: 60_000 });
    expect(limiter.handle.metrics.snapshot().counts.trial).toMatchObject({ shadow_refused: 2 });
  });
});
