import { env } from 'cloudflare:workers';
import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Limiter } from '../../src/limiter/limiter';
import { keyDigester } from '../../src/observability/key-digest';
import { parsePolicy } from '../../src/policy/parse';
import type { PolicyInput } from '../../src/policy/schema';
import { Replay } from '../../src/replay/replay';
import { parseTrafficRecord } from '../../src/traffic/record';
import { trafficRecorder } from '../../src/traffic/recorder';
import { freshIp, limitedApp, send } from '../support/app';
import { loggedLines } from '../support/log-lines';

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 6 * 3_600_000;
const TOKEN = 'sk_live_traffic_record_secret_0001';

const policy: PolicyInput = {
  name: 'recorded',
  onError: { mode: 'open', timeoutMs: 10_000 },
  identity: { credential: 'bearer' },
  trafficRecord: {},
  rules: [
    { name: 'per-ip', key: 'ip', limits: [{ limit: 2, window: '1m' }] },
    { name: 'per-token', key: 'bearer', cost: { header: 'X-Batch', max: 10 }, limits: [{ limit: 100, window: '1m' }] },
    { name: 'trial', key: 'ip', shadow: true, limits: [{ limit: 1, window: '1m' }] },
  ],
};

afterEach(() => vi.restoreAllMocks());

describe('traffic record', () => {
  it('writes one versioned line per request with the method, path, host, tier, key digests, rule outcomes, decision and status', async () => {
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    const lines = await loggedLines(async () => {
      for (let i = 0; i < 3; i++)
        await (await send(app, '/v1/Items/../items', ip, { headers: { Authorization: `Bearer ${TOKEN}`, 'X-Batch': '4' } })).arrayBuffer();
    });
    const records = lines.filter((l) => l.includes('"event":"traffic"')).map((l) => parseTrafficRecord(JSON.parse(l)));
    expect(records).toHaveLength(3);
    const keys = { ip: await keyDigester(undefined).digest(`ip=${ip}`), bearer: expect.stringMatching(/^[0-9a-f]{16}$/) };
    expect(records[0]).toEqual({
      time: T0,
      method: 'GET',
      host: 'api.example.test',
      path: '/v1/items',
      tier: 'default',
      keys,
      rules: { 'per-ip': 'a', 'per-token': 'a', trial: 'a' },
      costs: { 'x-batch': 4 },
      decision: 'allow',
      status: 200,
      sampleRate: 1,
    });
    expect(records[1]).toMatchObject({ rules: { 'per-ip': 'a', 'per-token': 'a', trial: 's' }, decision: 'allow', status: 200 });
    expect(records[2]).toMatchObject({ rules: { 'per-ip': 'r', 'per-token': 'a', trial: 's' }, decision: 'limit', status: 429 });
    // The digest is the one refusal lines already carry for the key.
    const refusal = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'refused' && l.rule === 'per-ip');
    expect(refusal?.key).toBe(records[0]!.keys.ip);
    // Never the credential or the address.
    const text = lines.join('\n');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(ip);
  });

  it('names keys by the HMAC digest under KEY_DIGEST_SECRET, the one refusal lines of the same bindings use', async () => {
    const secret = 'traffic-record-test-secret-of-32-bytes-or-more';
    const bindings = { ...env, KEY_DIGEST_SECRET: secret };
    const { app } = limitedApp({ policy, now: () => T0 });
    const ip = freshIp();
    const lines = await loggedLines(async () => {
      for (let i = 0; i < 3; i++)
        await (await send(app, '/keyed', ip, { headers: { Authorization: `Bearer ${TOKEN}` } }, bindings)).arrayBuffer();
    });
    const hmac = (name: string) => createHmac('sha256', secret).update(name).digest('hex').slice(0, 16);
    const records = lines.filter((l) => l.includes('"event":"traffic"')).map((l) => parseTrafficRecord(JSON.parse(l)));
    expect(records.map((r) => r.keys)).toEqual(
      Array(3).fill({ ip: hmac(`ip=${ip}`), bearer: hmac(`bearer=${createHash('sha256').update(TOKEN).digest('hex')}`) }),
    );
    expect(records[2]).toMatchObject({ rules: { 'per-ip': 'r' }, decision: 'limit', status: 429 });
    const refusal = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'refused' && l.rule === 'per-ip');
    expect(refusal?.key).toBe(records[0]!.keys.ip);
    expect(lines.some((l) => l.includes('"event":"key_digest_unkeyed"'))).toBe(false);
  });

  it('records the sampled share of requests and says so on each line', async () => {
    let draw = 0;
    const draws = [0.05, 0.5, 0.09, 0.95];
    const { app } = limitedApp({ policy: { ...policy, trafficRecord: { sample: 0.1 } }, now: () => T0 });
    const ips = draws.map(() => freshIp());
    // The recorder's randomness is Math.random: pinned here.
    vi.spyOn(Math, 'random').mockImplementation(() => draws[draw++ % draws.length]!);
    const lines = await loggedLines(async () => {
      for (const ip of ips) await (await send(app, '/sampled', ip)).arrayBuffer();
    });
    const records = lines.filter((l) => l.includes('"event":"traffic"')).map((l) => parseTrafficRecord(JSON.parse(l)));
    expect(records).toHaveLength(2);
    expect(records.every((r) => r.sampleRate === 0.1)).toBe(true);
  });

  it('writes nothing unless the policy enables it', async () => {
    const { trafficRecord: _, ...off } = policy;
    const { app } = limitedApp({ policy: off, now: () => T0 });
    const lines = await loggedLines(async () => void (await (await send(app, '/off', freshIp())).arrayBuffer()));
    expect(lines.some((l) => l.includes('"event":"traffic"'))).toBe(false);
  });

  it('replays what it recorded: the same policy decides the same way', async () => {
    let now = T0;
    const { app } = limitedApp({ policy, now: () => now });
    const ip = freshIp();
    const lines = await loggedLines(async () => {
      for (let i = 0; i < 6; i++) {
        await (await send(app, '/replayed', ip)).arrayBuffer();
        now += 15_000;
      }
    });
    const replay = new Replay(parsePolicy(policy));
    for (const line of lines.filter((l) => l.includes('"event":"traffic"'))) replay.add(parseTrafficRecord(JSON.parse(line)));
    const report = replay.report();
    expect(report.records).toBe(6);
    expect(report.liveRefused).toBeGreaterThan(0);
    expect(report.refused).toBe(report.liveRefused);
    expect(report.newlyRefused).toBe(0);
  });

  it('refuses a policy whose sample is out of range, naming the field', () => {
    expect(() => parsePolicy({ ...policy, trafficRecord: { sample: 0 } })).toThrow(/trafficRecord\.sample/);
  });
});
