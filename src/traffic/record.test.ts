import { describe, expect, it } from 'vitest';
import { encodeTrafficRecord, parseTrafficRecord, recordsInLogLine, type TrafficRecord } from './record';

const record: TrafficRecord = {
  time: 1_793_577_600_000,
  method: 'POST',
  host: 'api.example.com',
  path: '/login',
  tier: 'anonymous',
  keys: { ip: '9f86d081884c7d65' },
  rules: { login: 'r', 'per-ip': 'a' },
  decision: 'limit',
  status: 429,
  sampleRate: 1,
};

describe('traffic record format', () => {
  it('writes version 1 with short field names, leaving out fields at their defaults', () => {
    expect(encodeTrafficRecord(record)).toBe(
      '{"event":"traffic","v":1,"t":1793577600000,"m":"POST","h":"api.example.com","p":"/login","tier":"anonymous","k":{"ip":"9f86d081884c7d65"},"r":{"login":"r","per-ip":"a"},"d":"limit","s":429}',
    );
  });

  it('reads back what it writes, with the optional fields', () => {
    const full: TrafficRecord = { ...record, literalPath: '/Login', costs: { 'x-batch': 3 }, sampleRate: 0.25 };
    expect(parseTrafficRecord(JSON.parse(encodeTrafficRecord(full)))).toEqual(full);
  });

  it.each([
    [{ v: 2 }, /^v: unsupported record version 2/],
    [{ t: 'yesterday' }, /^t: /],
    [{ r: { login: 'x' } }, /^r: /],
    [{ k: { ip: 1 } }, /^k: /],
    [{ d: 'maybe' }, /^d: /],
    [{ sr: 0 }, /^sr: /],
  ])('refuses a line with %j, naming the field', (change, message) => {
    expect(() => parseTrafficRecord({ ...JSON.parse(encodeTrafficRecord(record)), ...change })).toThrow(message);
  });

  it('finds records in Logpush Workers trace events and skips other lines', () => {
    const line = encodeTrafficRecord(record);
    const event = {
      Event: { Request: { URL: 'https://api.example.com/login' } },
      Logs: [
        { Level: 'log', Message: [line], TimestampMs: 1 },
        { Level: 'log', Message: ['{"event":"refused"}'] },
      ],
    };
    expect(recordsInLogLine(event)).toEqual([JSON.parse(line)]);
    expect(recordsInLogLine({ event: 'refused', rule: 'login' })).toEqual([]);
    expect(recordsInLogLine(JSON.parse(line))).toEqual([JSON.parse(line)]);
  });
});
