import type { BanRequest, LimitRequest } from '../algorithms/decide';
import type { CompiledLimit, CompiledRule } from '../policy/compile';

/** One limit of a rule, at a request's cost: what a key's object is asked to count. */
export interface CountedLimit {
  readonly rule: CompiledRule;
  readonly limit: CompiledLimit;
  readonly cost: number;
}

/**
 * What the key's object (or a replay of it) decides for one limit. With
 * `mayWait`, a GCRA limit of a rule with `smooth` may admit after a wait of
 * up to the rule's `maxWait` instead of refusing.
 */
export function limitRequestOf(entry: CountedLimit, mayWait = false): LimitRequest {
  const request = {
    id: entry.limit.id,
    config: entry.limit.config,
    cost: entry.cost,
    countRefused: entry.rule.rule.countRefused,
    shadow: entry.rule.rule.shadow,
  };
  if (entry.limit.countResponses) return { ...request, checkOnly: true };
  const smooth = entry.rule.rule.smooth;
  return mayWait && smooth && entry.limit.config.algorithm === 'gcra' && !request.shadow
    ? { ...request, maxWaitMs: smooth.maxWait }
    : request;
}

/** The bans of the rules sharing a key, as the key's object keeps them. */
export function bansOf(rules: readonly CompiledRule[]): BanRequest[] {
  return rules.flatMap((r) =>
    r.rule.ban ? [{ rule: r.name, after: r.rule.ban.after, withinMs: r.rule.ban.within, durationMs: r.rule.ban.duration }] : [],
  );
}
