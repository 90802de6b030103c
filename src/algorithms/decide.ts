import { holdsSlots } from './concurrency';
import { fixedWindow } from './fixed-window';
import { gcra } from './gcra';
import { algorithmFor } from './registry';
import type { LimitConfig, LimitDecision, LimitState, Transition } from './types';

/** One limit of one request, as the key's Durable Object receives it. */
export interface LimitRequest {
  /** Unique within the key: `<rule>/<limit>`. */
  readonly id: string;
  readonly config: LimitConfig;
  readonly cost: number;
  /** Count the request even when it is refused. */
  readonly countRefused: boolean;
  /** Never refuse; report what would have been refused. */
  readonly shadow: boolean;
  /** Only check: the limit refuses once its count is reached, but counts responses (charged later), not requests. */
  readonly checkOnly?: boolean;
  /**
   * GCRA only: the request may be admitted after a wait of up to this many
   * ms instead of refused (smoothing). Left out when the isolate may not
   * hold the request (its queue for the key is full).
   */
  readonly maxWaitMs?: number;
}

/** A fail2ban-style ban attached to a rule: `after` refusals within `withinMs` ban the key for `durationMs`. */
export interface BanRequest {
  readonly rule: string;
  readonly after: number;
  readonly withinMs: number;
  readonly durationMs: number;
}

/** Stored ban bookkeeping of one rule on one key. */
export interface BanState {
  readonly violations: LimitState;
  readonly bannedUntil: number;
  /** When this row no longer matters: the ban is over and the violation window has passed. */
  readonly expiresAt: number;
}

/** Everything a key's Durable Object decides in one atomic step. */
export interface KeyRequest {
  readonly now: number;
  readonly limits: readonly LimitRequest[];
  readonly bans?: readonly BanRequest[];
}

export interface LimitOutcome {
  readonly id: string;
  readonly shadow: boolean;
  readonly decision: LimitDecision;
  /** Whether this request was counted by this limit (so a reservation can be released). */
  readonly counted: boolean;
}

export interface KeyDecision {
  readonly allowed: boolean;
  /**
   * Set when the request is admitted after a wait (smoothing): forward it
   * this many ms after `now`. Its GCRA limits counted it as arriving then.
   */
  readonly delayMs?: number;
  readonly outcomes: readonly LimitOutcome[];
  /** Set when the key is banned: until when, by which rule, and whether this request placed the ban. */
  readonly banned?: { readonly until: number; readonly rule: string; readonly placed?: boolean };
}

/** What the step read and what it writes back. */
export interface KeyTransition {
  readonly decision: KeyDecision;
  readonly limitWrites: ReadonlyMap<string, LimitState>;
  readonly banWrites: ReadonlyMap<string, BanState>;
}

/**
 * Decides one request against every limit it meets under one key, as one
 * atomic step: either every enforced limit admits it and all count it, or it
 * is refused and only limits that count refusals count it. Shadow limits
 * never refuse. Check-only limits refuse once their count is reached but
 * never count the request (their count is charged after the response). A key banned by any rule is refused without counting.
 * A concurrency limit takes its slot in the same step, so a request refused
 * by a window does not hold a slot, and one refused for want of a slot
 * spends no window's budget.
 *
 * Smoothing: a request refused only by GCRA limits that allow a wait
 * (`maxWaitMs`), each for no longer than that, is admitted after the
 * longest of their waits instead (`delayMs`). Its GCRA limits count it as
 * arriving then, so the wait is reserved: the next request queues behind it.
 *
 * Pure: `read` gives stored states, the result says what to write.
 *
 * @example
 * const limits = [{ id: 'api/1m', config: { algorithm: 'fixed-window', limit: 100, windowMs: 60_000 }, cost: 1, countRefused: false, shadow: false }] as const;
 * const { decision, limitWrites } = decideKey(() => undefined, () => undefined, { now: Date.now(), limits });
 * decision.allowed; // true; limitWrites holds the state to store under 'api/1m'
 */
export function decideKey(
  read: (id: string) => LimitState | undefined,
  readBan: (rule: string) => BanState | undefined,
  request: KeyRequest,
): KeyTransition {
  const { now } = request;
  const limitWrites = new Map<string, LimitState>();
  const banWrites = new Map<string, BanState>();

  for (const ban of request.bans ?? []) {
    const state = readBan(ban.rule);
    if (state && state.bannedUntil > now) {
      const outcomes = request.limits.map((l) => ({
        id: l.id,
        shadow: l.shadow,
        counted: false,
        decision: algorithmFor(l.config.algorithm).peek(read(l.id), now, l.config),
      }));
      return { decision: { allowed: false, outcomes, banned: { until: state.bannedUntil, rule: ban.rule } }, limitWrites, banWrites };
    }
  }

  let trials = request.limits.map((l) => ({
    l,
    state: read(l.id),
    trial: algorithmFor(l.config.algorithm).consume(read(l.id), now, l.config, l.cost, false),
  }));
  let allowed = trials.every(({ l, trial }) => l.shadow || trial.decision.allowed);
  let delayMs = 0;
  if (!allowed) {
    const wait = smoothingWait(trials);
    if (wait !== undefined) {
      // Every GCRA limit counts the request as arriving when it is forwarded; window limits count it now.
      const later = trials.map((t) =>
        t.l.config.algorithm === 'gcra' && !t.l.shadow
          ? { ...t, trial: gcra.consume(t.state, now + wait, t.l.config, t.l.cost, false) }
          : t,
      );
      if (later.every(({ l, trial }) => l.shadow || trial.decision.allowed)) {
        trials = later;
        allowed = true;
        delayMs = wait;
      }
    }
  }

  const outcomes: LimitOutcome[] = trials.map(({ l, state, trial }) => {
    const algorithm = algorithmFor(l.config.algorithm);
    const selfAdmits = trial.decision.allowed;
    // A shadow limit counts as if it were enforced on its own; enforced limits follow the joint decision.
    const admittedHere = l.shadow ? selfAdmits : allowed;
    if (admittedHere && selfAdmits && !l.checkOnly) {
      limitWrites.set(l.id, trial.state);
      return { id: l.id, shadow: l.shadow, counted: true, decision: trial.decision };
    }
    // A refused request never holds a slot, whatever its rule counts.
    if (l.countRefused && !holdsSlots(l.config)) {
      const counted = algorithm.consume(state, now, l.config, l.cost, true);
      limitWrites.set(l.id, counted.state);
      return {
        id: l.id,
        shadow: l.shadow,
        counted: true,
        decision: { ...counted.decision, allowed: selfAdmits, retryAfterMs: trial.decision.retryAfterMs },
      };
    }
    const unchanged = selfAdmits ? { ...algorithm.peek(state, now, l.config), allowed: true, retryAfterMs: 0 } : trial.decision;
    return { id: l.id, shadow: l.shadow, counted: false, decision: unchanged };
  });

  let banned: KeyDecision['banned'];
  for (const ban of request.bans ?? []) {
    const refusedHere = outcomes.some((o) => !o.shadow && !o.decision.allowed && o.id.startsWith(`${ban.rule}/`));
    if (!refusedHere) continue;
    const config: LimitConfig = { algorithm: 'fixed-window', limit: ban.after, windowMs: ban.withinMs };
    const previous = readBan(ban.rule);
    const step = fixedWindow.consume(previous?.violations, now, config, 1, true);
    const reached = step.state.current >= ban.after;
    const bannedUntil = reached ? now + ban.durationMs : 0;
    const violations = reached ? { ...step.state, current: 0 } : step.state;
    banWrites.set(ban.rule, { violations, bannedUntil, expiresAt: Math.max(bannedUntil, violations.windowStart + ban.withinMs) });
    if (reached && !banned) banned = { until: bannedUntil, rule: ban.rule, placed: true };
  }

  return { decision: { allowed, outcomes, ...(delayMs > 0 ? { delayMs } : {}), ...(banned ? { banned } : {}) }, limitWrites, banWrites };
}

/**
 * How long a refused request would wait before every enforced limit admits
 * it, when that wait is one smoothing allows: each refusing limit is a GCRA
 * limit whose wait is at most its `maxWaitMs`. `undefined` otherwise (a
 * window limit refuses, a wait is too long, or the request costs more than
 * a burst).
 */
function smoothingWait(trials: ReadonlyArray<{ l: LimitRequest; trial: Transition }>): number | undefined {
  let wait = 0;
  for (const { l, trial } of trials) {
    if (l.shadow || trial.decision.allowed) continue;
    const bound = l.config.algorithm === 'gcra' && !l.checkOnly ? l.maxWaitMs : undefined;
    if (bound === undefined || !(trial.decision.retryAfterMs <= bound) || l.cost > (l.config.burst ?? l.config.limit)) return undefined;
    wait = Math.max(wait, trial.decision.retryAfterMs);
  }
  return wait > 0 ? wait : undefined;
}
