/**
 * The traffic record: one compact JSON line per recorded request, written to
 * Workers Logs (and Logpush) when the policy's `trafficRecord` enables it, and
 * read back by `npm run replay`. Keys appear only as the short digests the
 * refusal logs already use, never as credentials or addresses.
 *
 * The line carries its format version (`v`); readers accept every version
 * they know, so records written by an older limiter keep replaying.
 */

/** The format version this limiter writes. */
export const TRAFFIC_RECORD_VERSION = 1;

/** The `event` field that marks a traffic record among other log lines. */
export const TRAFFIC_EVENT = 'traffic';

/** How one rule treated the request: admitted, refused, or refused in shadow mode (admitted). */
export type RuleOutcome = 'a' | 'r' | 's';

/** What the limiter answered: the verdict kinds of the engine. */
export type RecordedDecision = 'allow' | 'limit' | 'capacity' | 'block' | 'ban' | 'unavailable';

/** One recorded request, as `parseTrafficRecord` returns it (whatever version it was written in). */
export interface TrafficRecord {
  /** When the limiter decided, epoch milliseconds. */
  readonly time: number;
  readonly method: string;
  readonly host: string;
  /** The normalised path. */
  readonly path: string;
  /** The literal reading of the path, where it differs from the normalised one. */
  readonly literalPath?: string;
  readonly tier: string;
  /** Key digest by key signature (`ip`, `bearer`, `ip+method`…), for every rule that applied. */
  readonly keys: Readonly<Record<string, string>>;
  /** Each rule that applied, by name, and how it treated the request. */
  readonly rules: Readonly<Record<string, RuleOutcome>>;
  /** Costs read from request headers, by lower-case header name (rules with `cost: { header }`). */
  readonly costs?: Readonly<Record<string, number>>;
  readonly decision: RecordedDecision;
  /** The response status (the origin's, or the limiter's own refusal). */
  readonly status: number;
  /** The share of requests recorded (1 when every request is). */
  readonly sampleRate: number;
}

/**
 * A record's fields in the current version's line, without the `event` field
 * (which `logEvent` adds): short names keep lines small.
 */
export function trafficRecordFields(record: TrafficRecord): Record<string, unknown> {
  return {
    v: TRAFFIC_RECORD_VERSION,
    t: record.time,
    m: record.method,
    h: record.host,
    p: record.path,
    lp: record.literalPath,
    tier: record.tier,
    k: record.keys,
    r: record.rules,
    c: record.costs && Object.keys(record.costs).length > 0 ? record.costs : undefined,
    d: record.decision,
    s: record.status,
    sr: record.sampleRate === 1 ? undefined : record.sampleRate,
  };
}

/**
 * The line for a record, in the current version: what the limiter logs.
 *
 * @example
 * encodeTrafficRecord({ time: 0, method: 'GET', host: 'api.example.com', path: '/v1/items', tier: 'anonymous', keys: { ip: '9f86d081884c7d65' }, rules: { 'per-ip': 'a' }, decision: 'allow', status: 200, sampleRate: 1 });
 * // '{"event":"traffic","v":1,"t":0,"m":"GET","h":"api.example.com","p":"/v1/items","tier":"anonymous","k":{"ip":"9f86d081884c7d65"},"r":{"per-ip":"a"},"d":"allow","s":200}'
 */
export function encodeTrafficRecord(record: TrafficRecord): string {
  return JSON.stringify({ event: TRAFFIC_EVENT, ...trafficRecordFields(record) });
}

const DECISIONS = new Set<string>(['allow', 'limit', 'capacity', 'block', 'ban', 'unavailable']);
const OUTCOMES = new Set<string>(['a', 'r', 's']);

/** A record that could not be read, and why (naming the field). */
export class TrafficRecordError extends Error {}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Reads one record from its parsed JSON line, in any version this limiter
 * knows. Throws a {@link TrafficRecordError} naming the field at fault.
 *
 * @example
 * parseTrafficRecord(JSON.parse(line)).rules; // { 'per-ip': 'a' }
 */
export function parseTrafficRecord(line: unknown): TrafficRecord {
  if (typeof line !== 'object' || line === null) throw new TrafficRecordError('not a JSON object');
  const o = line as Record<string, unknown>;
  if (o.event !== TRAFFIC_EVENT) throw new TrafficRecordError(`event: expected "${TRAFFIC_EVENT}"`);
  if (o.v !== 1) throw new TrafficRecordError(`v: unsupported record version ${JSON.stringify(o.v)} (this limiter reads 1)`);
  const fail = (field: string, expected: string): never => {
    throw new TrafficRecordError(`${field}: expected ${expected}`);
  };
  if (typeof o.t !== 'number' || !Number.isFinite(o.t)) fail('t', 'a time in epoch milliseconds');
  if (typeof o.m !== 'string') fail('m', 'a method');
  if (typeof o.h !== 'string') fail('h', 'a host');
  if (typeof o.p !== 'string') fail('p', 'a path');
  if (o.lp !== undefined && typeof o.lp !== 'string') fail('lp', 'a path');
  if (typeof o.tier !== 'string') fail('tier', 'a tier name');
  if (!isStringMap(o.k)) fail('k', 'an object of key digests');
  if (!isStringMap(o.r) || !Object.values(o.r as Record<string, string>).every((v) => OUTCOMES.has(v)))
    fail('r', 'an object of rule outcomes "a", "r" or "s"');
  if (o.c !== undefined && (typeof o.c !== 'object' || o.c === null || !Object.values(o.c).every((n) => typeof n === 'number' && n >= 0)))
    fail('c', 'an object of costs');
  if (typeof o.d !== 'string' || !DECISIONS.has(o.d)) fail('d', 'allow, limit, block, ban or unavailable');
  if (typeof o.s !== 'number' || !Number.isInteger(o.s)) fail('s', 'a status code');
  if (o.sr !== undefined && (typeof o.sr !== 'number' || !(o.sr > 0 && o.sr <= 1))) fail('sr', 'a sample rate in (0, 1]');
  return {
    time: o.t as number,
    method: o.m as string,
    host: o.h as string,
    path: o.p as string,
    ...(o.lp !== undefined ? { literalPath: o.lp as string } : {}),
    tier: o.tier as string,
    keys: o.k as Record<string, string>,
    rules: o.r as Record<string, RuleOutcome>,
    ...(o.c !== undefined ? { costs: o.c as Record<string, number> } : {}),
    decision: o.d as RecordedDecision,
    status: o.s as number,
    sampleRate: (o.sr as number | undefined) ?? 1,
  };
}

/**
 * The traffic records in one line of a log export: the record itself (Workers
 * Logs, `wrangler tail --format json` messages) or a Logpush Workers Trace
 * Event, whose `Logs[].Message[]` hold the logged lines. Other lines yield
 * nothing.
 */
export function recordsInLogLine(parsed: unknown): unknown[] {
  if (typeof parsed !== 'object' || parsed === null) return [];
  const o = parsed as Record<string, unknown>;
  if (o.event === TRAFFIC_EVENT) return [o];
  const logs = o.Logs ?? o.logs;
  if (!Array.isArray(logs)) return [];
  const found: unknown[] = [];
  for (const log of logs) {
    const messages = (log as { Message?: unknown; message?: unknown })?.Message ?? (log as { message?: unknown })?.message;
    for (const message of Array.isArray(messages) ? messages : [messages]) {
      if (typeof message === 'string' && message.includes(`"event":"${TRAFFIC_EVENT}"`)) found.push(JSON.parse(message));
      else if (typeof message === 'object' && message !== null && (message as { event?: unknown }).event === TRAFFIC_EVENT)
        found.push(message);
    }
  }
  return found;
}
