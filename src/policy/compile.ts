import ipaddr from 'ipaddr.js';
import type { LimitConfig } from '../algorithms/types';
import { type CompiledIdentity, compileIdentity } from '../identity/resolve';
import { formatDuration } from './duration';
import { compileHostPattern, compilePathPattern } from './path-pattern';
import type { CountWhen, KeyPart, Limit, ListSettings, OnError, Policy, ResponseSettings, Rule } from './schema';

/** A limit ready to run: its algorithm settings and where it belongs. */
export interface CompiledLimit {
  /** Unique within the key's Durable Object: `<rule>/<limit name>`. */
  readonly id: string;
  /** The name headers show (`30s`, `5m`, `backoff-2`). */
  readonly name: string;
  readonly rule: string;
  readonly config: LimitConfig;
  /** Present when only some responses count; the count is then reserved and settled after the origin answers. */
  readonly countWhen?: (status: number) => boolean;
  /** Present when the rule counts the origin's responses (`countResponses`): requests are only checked, matching responses are charged after they arrive. */
  readonly countResponses?: (status: number) => boolean;
  /** Present when the rule is `quiet`: reported only where the limit refuses. */
  readonly quiet?: true;
  /** Present on a limit reduced while the origin is degraded (`originHealth`): the limit as the policy (or an override) sets it. */
  readonly reducedFrom?: CompiledLimit;
}

/** What the matcher knows of a request. */
export interface RequestFacts {
  readonly method: string;
  readonly host: string;
  /** Normalised path. */
  readonly path: string;
  /** The literal reading of the path, where it differs (see `pathReadings`): rules match either. */
  readonly literalPath?: string | undefined;
  readonly tier: string;
}

export interface CompiledRule {
  readonly rule: Rule;
  readonly name: string;
  /** Its place in the policy: results are reported in policy order. */
  readonly index: number;
  readonly limits: readonly CompiledLimit[];
  readonly onError: OnError;
  readonly response: ResponseSettings;
  /** A stable text naming the key's parts, so rules with the same key share one Durable Object. */
  readonly keySignature: string;
  matches(facts: RequestFacts): boolean;
}

/** Facts a list entry is tested on. */
export interface ListFacts {
  readonly address?: string | undefined;
  readonly country?: string | undefined;
  readonly asn?: number | undefined;
  readonly credentialHash?: string | undefined;
}

export interface CompiledList {
  /** Whether the list names nothing, so no request needs testing against it. */
  readonly empty: boolean;
  matches(facts: ListFacts): boolean;
}

/** A list naming nothing. */
export const EMPTY_LIST: CompiledList = { empty: true, matches: () => false };

export interface CompiledPolicy {
  readonly policy: Policy;
  readonly rules: readonly CompiledRule[];
  /** The quota endpoint's own per-address limit, when the policy has the endpoint. */
  readonly quotaRule?: CompiledRule;
  readonly allow: CompiledList;
  readonly block: CompiledList;
  /** The policy's identity settings with token patterns compiled, when it names callers. */
  readonly identity?: CompiledIdentity;
  /** The rules whose limits follow the origin's health (`originHealth.rules`). */
  readonly healthRules?: ReadonlySet<CompiledRule>;
}

/** `[200, "2xx"]` as a test on a status code. */
export function statusMatcher(countWhen: CountWhen): (status: number) => boolean {
  const exact = new Set<number>();
  const classes = new Set<number>();
  for (const s of countWhen.status) {
    if (typeof s === 'number') exact.add(s);
    else classes.add(Number(s[0]));
  }
  return (status) => exact.has(status) || classes.has(Math.floor(status / 100));
}

function compileLimit(rule: Rule, limit: Limit): CompiledLimit {
  const name = limit.name ?? formatDuration(limit.window);
  return {
    id: `${rule.name}/${name}`,
    name,
    rule: rule.name,
    config: {
      algorithm: limit.algorithm,
      limit: limit.limit,
      windowMs: limit.window,
      ...(limit.burst !== undefined ? { burst: limit.burst } : {}),
      ...(limit.period ? { period: limit.period } : {}),
      ...(limit.notify ? { notify: limit.notify } : {}),
    },
    ...(limit.countWhen ? { countWhen: statusMatcher(limit.countWhen) } : {}),
    ...(rule.countResponses ? { countResponses: statusMatcher(rule.countResponses) } : {}),
    ...(rule.quiet ? { quiet: true as const } : {}),
  };
}

/** Expands a rule's backoff into its levels: level n admits `limit × n` per `period^n` seconds. */
export function backoffLimits(rule: Rule): Limit[] {
  const b = rule.backoff;
  if (!b) return [];
  const periodSeconds = b.period / 1000;
  return Array.from({ length: b.levels }, (_, i) => {
    const level = i + 1;
    return {
      name: `${b.name}-${level}`,
      algorithm: b.algorithm,
      limit: b.limit * level,
      window: periodSeconds ** level * 1000,
      ...(b.countWhen ? { countWhen: b.countWhen } : {}),
    };
  });
}

/** The limits of a rule after backoff expansion. */
export function ruleLimits(rule: Rule): CompiledLimit[] {
  return [...rule.limits, ...backoffLimits(rule)].map((limit) => compileLimit(rule, limit));
}

export function keySignature(parts: readonly KeyPart[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('+');
}

function compileRule(policy: Policy, rule: Rule, index: number): CompiledRule {
  const { match } = rule;
  // HEAD is GET without a body: a limit on GET must not be dodged with HEAD.
  const methods = match.methods ? new Set(match.methods.includes('GET') ? [...match.methods, 'HEAD'] : match.methods) : undefined;
  const hosts = match.hosts?.map(compileHostPattern);
  const exceptHosts = match.exceptHosts?.map(compileHostPattern);
  const paths = match.paths?.map((p) => compilePathPattern(p, policy.caseSensitivePaths));
  const exceptPaths = match.exceptPaths?.map((p) => compilePathPattern(p, policy.caseSensitivePaths));
  const tiers = match.tiers ? new Set(match.tiers) : undefined;
  const pathMatches = (path: string) => (!paths || paths.some((p) => p(path))) && !(exceptPaths && exceptPaths.some((p) => p(path)));
  return {
    rule,
    name: rule.name,
    index,
    limits: ruleLimits(rule),
    onError: rule.onError ?? policy.onError,
    response: { ...policy.response, ...rule.response },
    keySignature: keySignature(rule.key),
    matches(facts) {
      if (methods && !methods.has(facts.method)) return false;
      if (hosts && !hosts.some((h) => h(facts.host))) return false;
      if (exceptHosts && exceptHosts.some((h) => h(facts.host))) return false;
      if (tiers && !tiers.has(facts.tier)) return false;
      return pathMatches(facts.path) || (facts.literalPath !== undefined && pathMatches(facts.literalPath));
    },
  };
}

/** The name of the quota endpoint's limit: no policy rule can have it (rule names start with a letter or digit). */
export const QUOTA_RULE = '.quota';

/** The quota endpoint's per-address limit as a rule keyed on the client address. */
function quotaRuleOf(perAddress: { readonly limit: number; readonly window: number }): Rule {
  return {
    name: QUOTA_RULE,
    match: {},
    key: ['ip'],
    limits: [{ name: 'reads', algorithm: 'fixed-window', limit: perAddress.limit, window: perAddress.window }],
    countRefused: false,
    shadow: false,
    cost: 1,
    quiet: false,
  };
}

/** Compiles allow or block list entries (addresses and CIDR ranges, countries, ASNs, credential digests). */
export function compileList(list: ListSettings | undefined): CompiledList {
  if (!list) return EMPTY_LIST;
  const ranges = list.ips.map((entry) =>
    entry.includes('/')
      ? ipaddr.parseCIDR(entry)
      : ([ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number]),
  );
  const countries = new Set(list.countries);
  const asns = new Set(list.asns);
  const credentials = new Set(list.credentials);
  return {
    empty: ranges.length === 0 && countries.size === 0 && asns.size === 0 && credentials.size === 0,
    matches(facts) {
      if (countries.size > 0 && facts.country && countries.has(facts.country)) return true;
      if (asns.size > 0 && facts.asn !== undefined && asns.has(facts.asn)) return true;
      if (facts.credentialHash && credentials.has(facts.credentialHash)) return true;
      if (facts.address && ranges.length > 0 && ipaddr.isValid(facts.address)) {
        let address = ipaddr.parse(facts.address);
        if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
        return ranges.some(([net, bits]) => net.kind() === address.kind() && address.match(net, bits));
      }
      return false;
    },
  };
}

/**
 * Turns a validated policy into the lookup structure the request path uses; done once per isolate.
 *
 * @example
 * const compiled = compilePolicy(parsePolicy(input));
 * compiled.rules.filter((r) => r.matches({ method: 'GET', host: 'api.example.com', path: '/v1/items', tier: 'anonymous' }));
 */
export function compilePolicy(policy: Policy): CompiledPolicy {
  const rules = policy.rules.map((rule, index) => compileRule(policy, rule, index));
  const healthRules = policy.originHealth?.rules;
  return {
    policy,
    rules,
    ...(healthRules ? { healthRules: new Set(rules.filter((r) => healthRules.includes(r.name))) } : {}),
    ...(policy.quota ? { quotaRule: compileRule(policy, quotaRuleOf(policy.quota.perAddress), policy.rules.length) } : {}),
    allow: compileList(policy.allow),
    block: compileList(policy.block),
    ...(policy.identity ? { identity: compileIdentity(policy.identity) } : {}),
  };
}
