import type { LimitDecision } from '../algorithms/types';
import type { Identity } from '../identity/resolve';
import type { CompiledLimit, CompiledList, CompiledRule } from '../policy/compile';
import type { Rule } from '../policy/schema';
import type { LimitStatus } from './limit-status';
import type { MaybePromise } from './maybe';
import type { RequestView } from './request-facts';
import type { AdvancedLimit } from './response-cost';

/** Limits in force for one rule and key after overrides: replaced limits, or exempt. */
export type LimitOverride = { readonly exempt: true } | { readonly exempt: false; readonly limits: readonly CompiledLimit[] };

/** Looks up live overrides (Workers KV) for a rule and its key value; `undefined` keeps the policy's limits. */
export interface OverrideSource {
  lookup(rule: CompiledRule, keyValue: string, identity: Identity, now: number): MaybePromise<LimitOverride | undefined>;
}

/** Allow and block lists changed at runtime (Workers KV), consulted besides the policy's own. */
export interface ListSource {
  current(now: number): MaybePromise<{ allow: CompiledList; block: CompiledList } | undefined>;
  /** Puts an address (or IPv6 prefix) on the block list until `until` (bans with `blockAddress`). */
  blockAddress?(address: string, until: number, reason: string, now: number): Promise<void>;
}

/** The capacity the origin's health leaves (`originHealth`): the factor at a time, and the rules it reduces. */
export interface CapacitySource {
  /** 1 at full capacity; the factor the reduced rules' limits are multiplied by otherwise. */
  factor(now: number): number;
  reduces(rule: CompiledRule): boolean;
}

/** One limit's answer, with the rule it belongs to. */
export interface LimitResult {
  readonly rule: CompiledRule;
  readonly limit: CompiledLimit;
  readonly decision: LimitDecision;
  readonly shadow: boolean;
  /** Whether the request was counted against the limit. */
  readonly counted: boolean;
}

/**
 * What the limiter answered: `capacity` is a refusal by limits reduced while
 * the origin is degraded, of a request the full limits would have admitted.
 */
export type VerdictKind = 'allow' | 'limit' | 'capacity' | 'block' | 'ban' | 'unavailable';

/** The limiter's answer for one request. */
export interface Verdict {
  readonly kind: VerdictKind;
  /** Every limit asked, for the rate-limit headers. */
  readonly results: readonly LimitResult[];
  /** Every limit asked, as the record every caller reads (worked out when first read). */
  readonly limits: readonly LimitStatus[];
  /** The rule whose limit refused (or whose ban applies). */
  readonly refusedBy?: CompiledRule;
  /** Milliseconds until the request could be admitted; 0 when allowed. */
  readonly retryAfterMs: number;
  /**
   * Set when an admitted request was held before it was let through
   * (smoothing): how long, in ms after the request's `now`. The verdict
   * resolves once the wait is over.
   */
  readonly delayMs?: number;
  /** HTTP status of a refusal. */
  readonly status: number;
  readonly view: RequestView;
  /**
   * Settles reservations of limits counted by outcome once the origin has
   * answered (a status) or failed (`'error'`), charges the responses
   * `countResponses` rules count, and settles the cost `responseCost` rules
   * read from `response`'s headers (read at the call, before it waits).
   * Resolves when released and charged.
   */
  settle(outcome: number | 'error', response?: { readonly headers: Headers }): Promise<void>;
  /**
   * Limits whose request's cost the response reports (rules with
   * `responseCost`), by their index in `results`; absent when there are
   * none. `resultsAfterResponse` reads them to show the settled budget.
   */
  readonly responseCosts?: ReadonlyMap<number, AdvancedLimit>;
  /**
   * Present when the request took concurrency slots: gives them back, at
   * `at` (epoch ms), once the response has been streamed, the client
   * aborted or the origin failed. Only the first call counts; it never rejects
   * (a slot whose release fails comes back when its lease ends).
   */
  readonly releaseSlots?: (at: number) => Promise<void>;
  /**
   * Work to finish after the response, if any: a ban's address written to
   * the block list, the next units of a lease running low. It never rejects.
   */
  readonly background?: Promise<void>;
}

/** Rules that apply under one key value: its object decides all their limits in one call. */
export interface Group {
  /** The key's object name: `<key signature>=<key value>`. */
  readonly name: string;
  readonly rules: CompiledRule[];
  readonly limits: Array<{ rule: CompiledRule; limit: CompiledLimit; cost: number }>;
}

/** The `settle` of a verdict with no reservation to keep or give back. */
export const NOTHING_TO_SETTLE = async (): Promise<void> => {};

/** A verdict without the request it was made for; lists are not consulted, so never a block. */
export type GroupsVerdict = Omit<Verdict, 'view' | 'kind'> & {
  readonly kind: Exclude<VerdictKind, 'block'>;
  /** The request decided, when there is one (not for `checkLimit`). */
  readonly view?: RequestView | undefined;
  /** The ban this request placed, if any: its rule and end. */
  readonly placedBan?: { readonly rule: Rule; readonly until: number };
};
