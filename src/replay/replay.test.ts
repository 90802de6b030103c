import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../policy/parse';
import type { PolicyInput } from '../policy/schema';
import { encodeTrafficRecord, parseTrafficRecord, type TrafficRecord } from '../traffic/record';
import { Replay } from './replay';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const START = Date.UTC(2026, 10, 2); // a Monday

/** A small deterministic generator (mulberry32), so the week is the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Request {
  readonly time: number;
  readonly ip: string;
  readonly token: string | undefined;
  readonly method: string;
  readonly path: string;
}

/** A week of traffic: steady clients, a few heavy ones with bursts, login attempts, and token holders. */
function week(): Request[] {
  const rand = random(20261102);
  const ips = Array.from({ length: 40 }, (_, i) => `ip${i.toString(16).padStart(14, '0')}`);
  const tokens = Array.from({ length: 8 }, (_, i) => `tk${i.toString(16).padStart(14, '0')}`);
  const requests: Request[] = [];
  for (let hour = 0; hour < 7 * 24; hour++) {
    const daytime = hour % 24 >= 8 && hour % 24 < 20;
    ips.forEach((ip, i) => {
      const heavy = i < 4;
      const rate = heavy ? (daytime ? 140 : 40) : daytime ? 12 : 3;
      const n = Math.floor(rate * (0.5 + rand()));
      const burst = heavy && rand() < 0.3;
      const burstAt = hour * HOUR + Math.floor(rand() * 59) * MINUTE;
      for (let k = 0; k < n; k++) {
        const at = burst && k < n / 2 ? burstAt + Math.floor(rand() * MINUTE) : hour * HOUR + Math.floor(rand() * HOUR);
        const login = rand() < (heavy ? 0.15 : 0.05);
        const token = rand() < 0.4 ? tokens[Math.floor(rand() * tokens.length)] : undefined;
        requests.push({
          time: START + at,
          ip,
          token,
          method: login ? 'POST' : 'GET',
          path: login ? '/login' : `/v1/items/${Math.floor(rand() * 100)}`,
        });
      }
    });
  }
  return requests.sort((a, b) => a.time - b.time);
}

interface BruteLimit {
  readonly rule: string;
  readonly name: string;
  readonly algorithm: 'fixed-window' | 'sliding-window';
  readonly limit: number;
  readonly windowMs: number;
  readonly shadow: boolean;
  readonly key: 'ip' | 'bearer';
  readonly applies: (r: Request) => boolean;
}

/** The use of a limit at `now` from the times it counted, by scanning them all. */
function useAt(counted: readonly number[], now: number, l: BruteLimit): number {
  const start = now - (now % l.windowMs);
  let current = 0;
  let previous = 0;
  for (const t of counted) {
    if (t >= start && t <= now) current++;
    else if (t >= start - l.windowMs && t < start) previous++;
  }
  if (l.algorithm === 'fixed-window') return current;
  return (previous * (l.windowMs - (now - start))) / l.windowMs + current;
}

interface BruteResult {
  readonly refusedRequests: boolean[];
  readonly refusedRules: Array<Set<string>>;
  readonly perLimit: Map<string, { refused: number; byKey: Map<string, number>; peak: number }>;
}

/**
 * The reference: every limit's use recomputed from scratch for every request
 * from the list of times it counted. A request is admitted when every
 * enforced limit has room; admitted requests count everywhere; a shadow
 * limit counts the requests it would admit itself.
 */
function bruteForce(requests: readonly Request[], limits: readonly BruteLimit[]): BruteResult {
  const counted = new Map<string, number[]>();
  const perLimit = new Map(limits.map((l) => [`${l.rule}/${l.name}`, { refused: 0, byKey: new Map<string, number>(), peak: 0 }]));
  const refusedRequests: boolean[] = [];
  const refusedRules: Array<Set<string>> = [];
  for (const r of requests) {
    const trials = limits.flatMap((l) => {
      if (!l.applies(r)) return [];
      const key = l.key === 'ip' ? r.ip : r.token;
      if (key === undefined) return [];
      const id = `${l.rule}/${l.name}|${key}`;
      const times = counted.get(id) ?? [];
      counted.set(id, times);
      const used = useAt(times, r.time, l);
      return [{ l, key, times, used, admits: used + 1 <= l.limit }];
    });
    const refused = trials.some((t) => !t.l.shadow && !t.admits);
    const rules = new Set<string>();
    for (const t of trials) {
      const stats = perLimit.get(`${t.l.rule}/${t.l.name}`)!;
      const after = t.admits && (t.l.shadow || !refused) ? t.used + 1 : t.used;
      stats.peak = Math.max(stats.peak, Math.ceil(after) / t.l.limit);
      if (!t.admits) {
        stats.refused++;
        stats.byKey.set(t.key, (stats.byKey.get(t.key) ?? 0) + 1);
        if (!t.l.shadow) rules.add(t.l.rule);
      }
      if (t.admits && (t.l.shadow || !refused)) t.times.push(r.time);
    }
    refusedRequests.push(refused);
    refusedRules.push(rules);
  }
  return { refusedRequests, refusedRules, perLimit };
}

const isLogin = (r: Request) => r.method === 'POST' && r.path === '/login';
const always = () => true;

function limitsOf(hourly: number, perMinute: number): BruteLimit[] {
  return [
    { rule: 'per-ip', name: 'hourly', algorithm: 'fixed-window', limit: hourly, windowMs: HOUR, shadow: false, key: 'ip', applies: always },
    {
      rule: 'per-ip',
      name: 'minute',
      algorithm: 'sliding-window',
      limit: perMinute,
      windowMs: MINUTE,
      shadow: false,
      key: 'ip',
      applies: always,
    },
    { rule: 'login', name: '10m', algorithm: 'fixed-window', limit: 6, windowMs: 10 * MINUTE, shadow: false, key: 'ip', applies: isLogin },
    {
      rule: 'per-token',
      name: '1m',
      algorithm: 'sliding-window',
      limit: 3,
      windowMs: MINUTE,
      shadow: false,
      key: 'bearer',
      applies: always,
    },
    { rule: 'watch', name: '5m', algorithm: 'fixed-window', limit: 40, windowMs: 5 * MINUTE, shadow: true, key: 'ip', applies: always },
  ];
}

function policyOf(hourly: number, perMinute: number): PolicyInput {
  return {
    name: 'candidate',
    identity: { credential: 'bearer' },
    rules: [
      {
        name: 'per-ip',
        key: 'ip',
        limits: [
          { name: 'hourly', limit: hourly, window: '1h' },
          { name: 'minute', algorithm: 'sliding-window', limit: perMinute, window: '1m' },
        ],
      },
      { name: 'login', key: 'ip', match: { methods: ['POST'], paths: ['/login'] }, limits: [{ limit: 6, window: '10m' }] },
      { name: 'per-token', key: 'bearer', limits: [{ limit: 3, window: '1m', algorithm: 'sliding-window' }] },
      { name: 'watch', key: 'ip', shadow: true, limits: [{ limit: 40, window: '5m' }] },
    ],
  };
}

/** The records a live limiter with the given limits would have written for the week. */
function recordsOf(requests: readonly Request[], live: BruteResult): TrafficRecord[] {
  return requests.map((r, i) => {
    const refused = live.refusedRequests[i]!;
    const rules: Record<string, 'a' | 'r'> = {
      'per-ip': 'a',
      watch: 'a',
      ...(isLogin(r) ? { login: 'a' } : {}),
      ...(r.token ? { 'per-token': 'a' } : {}),
    };
    for (const rule of live.refusedRules[i]!) rules[rule] = 'r';
    return {
      time: r.time,
      method: r.method,
      host: 'api.example.com',
      path: r.path,
      tier: r.token ? 'default' : 'anonymous',
      keys: { ip: r.ip, ...(r.token ? { bearer: r.token } : {}) },
      rules,
      decision: refused ? 'limit' : 'allow',
      status: refused ? 429 : 200,
      sampleRate: 1,
    };
  });
}

describe('Replay', () => {
  const requests = week();
  const live = bruteForce(requests, limitsOf(120, 30));
  const candidate = bruteForce(requests, limitsOf(90, 20));
  const records = recordsOf(requests, live);

  it('generates a week with refusals under every limit, so the comparison means something', () => {
    expect(requests.length).toBeGreaterThan(50_000);
    expect(requests.at(-1)!.time - requests[0]!.time).toBeGreaterThan(6.9 * 24 * HOUR);
    for (const [id, stats] of candidate.perLimit) expect(stats.refused, id).toBeGreaterThan(0);
  });

  it('refuses exactly what the brute-force reference refuses, per rule and limit', () => {
    const replay = new Replay(parsePolicy(policyOf(90, 20)));
    // Through the line format, as the command reads them.
    for (const record of records) replay.add(parseTrafficRecord(JSON.parse(encodeTrafficRecord(record))));
    const report = replay.report();

    expect(report.records).toBe(requests.length);
    expect(report.refused).toBe(candidate.refusedRequests.filter(Boolean).length);
    for (const limit of report.limits) {
      const expected = candidate.perLimit.get(`${limit.rule}/${limit.limit}`)!;
      expect(limit.refused, `${limit.rule}/${limit.limit}`).toBe(expected.refused);
      expect(limit.keysRefused, `${limit.rule}/${limit.limit}`).toBe(expected.byKey.size);
      const top = [...expected.byKey].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
      expect(
        limit.topKeys.map((k) => [k.key, k.refused]),
        `${limit.rule}/${limit.limit}`,
      ).toEqual(top);
      expect(limit.peakUse, `${limit.rule}/${limit.limit}`).toBeCloseTo(expected.peak, 9);
      expect(limit.timeline.reduce((a, b) => a + b, 0)).toBe(expected.refused);
    }
  });

  it('reports the difference from what the live policy decided, request by request and per rule', () => {
    const replay = new Replay(parsePolicy(policyOf(90, 20)));
    for (const record of records) replay.add(record);
    const report = replay.report();

    const newly = candidate.refusedRequests.filter((refused, i) => refused && !live.refusedRequests[i]).length;
    const noLonger = candidate.refusedRequests.filter((refused, i) => !refused && live.refusedRequests[i]).length;
    expect(report.liveRefused).toBe(live.refusedRequests.filter(Boolean).length);
    expect(report.newlyRefused).toBe(newly);
    expect(report.noLongerRefused).toBe(noLonger);
    expect(newly).toBeGreaterThan(0);
    for (const rule of report.rules) {
      const rows = candidate.refusedRules.map((rules, i) => [rules.has(rule.rule), live.refusedRules[i]!.has(rule.rule)] as const);
      expect(rule.refused, rule.rule).toBe(rows.filter(([c]) => c).length);
      expect(rule.newlyRefused, rule.rule).toBe(rows.filter(([c, l]) => c && !l).length);
      expect(rule.noLongerRefused, rule.rule).toBe(rows.filter(([c, l]) => !c && l).length);
    }
  });

  it('replaying the live policy itself changes nothing', () => {
    const replay = new Replay(parsePolicy(policyOf(120, 30)));
    for (const record of records) replay.add(record);
    const report = replay.report();
    expect(report.refused).toBe(report.liveRefused);
    expect(report.newlyRefused).toBe(0);
    expect(report.noLongerRefused).toBe(0);
  });

  it('reports rules keyed in a way the records do not hold as unkeyed, not as admitted', () => {
    const policy = parsePolicy({
      name: 'by-org',
      rules: [{ name: 'per-path', key: ['ip', 'path'], limits: [{ limit: 1, window: '1h' }] }],
    });
    const replay = new Replay(policy);
    for (const record of records.slice(0, 100)) replay.add(record);
    expect(replay.report().rules[0]).toMatchObject({ matched: 100, unkeyed: 100, refused: 0 });
  });
});
