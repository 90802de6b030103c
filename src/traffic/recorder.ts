import { hashMemo, keyValue } from '../engine/request-facts';
import type { Verdict } from '../engine/verdict';
import { type KeyDigester, keyDigester } from '../observability/key-digest';
import { logEvent } from '../observability/log';
import type { CompiledRule } from '../policy/compile';
import type { Policy } from '../policy/schema';
import { type RuleOutcome, TRAFFIC_EVENT, type TrafficRecord, trafficRecordFields } from './record';

/**
 * Writes the traffic record of one decided request, once its response status
 * is known; `digester` names its keys, as the refusal lines of the same
 * bindings do (`limiter.keyDigester(env)`), unkeyed when left out.
 */
export type TrafficRecorder = (verdict: Verdict, status: number, now: number, digester?: KeyDigester) => Promise<void> | undefined;

/** How each rule that applied treated the request. */
function outcomesOf(verdict: Verdict): Record<string, RuleOutcome> {
  const rules: Record<string, RuleOutcome> = {};
  for (const { rule, decision, shadow } of verdict.results) {
    const outcome: RuleOutcome = decision.allowed ? 'a' : shadow ? 's' : 'r';
    const before = rules[rule.name];
    if (before === undefined || outcome === 'r' || (outcome === 's' && before === 'a')) rules[rule.name] = outcome;
  }
  if (verdict.refusedBy && verdict.kind === 'ban') rules[verdict.refusedBy.name] = 'r';
  return rules;
}

/** Costs the request's headers gave rules with `cost: { header }`, as sent (replay applies each rule's default and maximum). */
function costsOf(rules: readonly CompiledRule[], headers: Headers): Record<string, number> | undefined {
  let costs: Record<string, number> | undefined;
  for (const rule of rules) {
    const cost = rule.rule.cost;
    if (typeof cost === 'number') continue;
    const name = cost.header.toLowerCase();
    const raw = headers.get(name);
    const n = raw === null ? Number.NaN : Number(raw);
    if (Number.isInteger(n) && n >= 0) (costs ??= {})[name] = n;
  }
  return costs;
}

/**
 * The traffic recorder of a policy, or `undefined` when its `trafficRecord`
 * is off. Each recorded request is one `traffic` log line (see
 * `traffic/record.ts`); its keys are derived again from the request with the
 * engine's own `keyValue` and written only as digests (the ones refusal lines
 * use), so a line never holds a credential or an address. With `sample` below 1, a request is recorded
 * with that probability and its line says so.
 *
 * @example
 * const record = trafficRecorder(policy);
 * if (record) c.executionCtx.waitUntil(record(verdict, response.status, at, limiter.keyDigester(c.env)) ?? Promise.resolve());
 */
export function trafficRecorder(policy: Policy, random: () => number = () => Math.random()): TrafficRecorder | undefined {
  const settings = policy.trafficRecord;
  if (!settings) return undefined;
  const { sample } = settings;
  return (verdict, status, now, digester = keyDigester(undefined)) => {
    if (sample < 1 && random() >= sample) return undefined;
    return write(verdict, status, now, policy, sample, digester).catch((error: unknown) =>
      logEvent('traffic_record_failed', { error: String(error) }),
    );
  };
}

async function write(
  verdict: Verdict,
  status: number,
  now: number,
  policy: Policy,
  sampleRate: number,
  digester: KeyDigester,
): Promise<void> {
  const { view } = verdict;
  const rules: CompiledRule[] = [];
  for (const { rule } of verdict.results) if (!rules.includes(rule)) rules.push(rule);
  const hash = hashMemo();
  const keys: Record<string, string> = {};
  for (const rule of rules) {
    if (keys[rule.keySignature] !== undefined) continue;
    const value = await keyValue(rule.rule.key, view, policy, hash);
    if (value !== undefined) keys[rule.keySignature] = await digester.digest(`${rule.keySignature}=${value}`);
  }
  const costs = costsOf(rules, view.headers);
  const record: TrafficRecord = {
    time: now,
    method: view.method,
    host: view.host,
    path: view.path,
    ...(view.literalPath !== undefined ? { literalPath: view.literalPath } : {}),
    tier: view.tier,
    keys,
    rules: outcomesOf(verdict),
    ...(costs ? { costs } : {}),
    decision: verdict.kind,
    status,
    sampleRate,
  };
  logEvent(TRAFFIC_EVENT, trafficRecordFields(record));
}
