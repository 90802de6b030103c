import type { KeyDecision } from '../algorithms/decide';

interface Entry {
  readonly storedAt: number;
  readonly until: number;
  readonly cost: number;
  readonly decision: KeyDecision;
}

/**
 * Remembers, per isolate, keys refused until a known time, so a flood of
 * refused requests is answered without calling the key's Durable Object.
 * Safe because a refusal can only end at its retry time: other traffic only
 * adds to the count. Bounded in size; the oldest entry goes first.
 */
export class DenyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 10_000) {}

  /** A cached refusal for `key` at `now` for a request costing at least what was refused, with its waits brought up to date. */
  get(key: string, now: number, cost: number): KeyDecision | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    if (cost < entry.cost) return undefined;
    const elapsed = now - entry.storedAt;
    return {
      ...entry.decision,
      outcomes: entry.decision.outcomes.map((o) =>
        o.decision.allowed
          ? o
          : { ...o, counted: false, decision: { ...o.decision, retryAfterMs: Math.max(1, o.decision.retryAfterMs - elapsed) } },
      ),
    };
  }

  /**
   * Records a refusal: until the earliest time any refusing limit could
   * admit again, or `soonerByMs` before that (a smoothing rule's longest
   * wait: from then on a request could be admitted after waiting).
   */
  remember(key: string, now: number, cost: number, decision: KeyDecision, soonerByMs = 0): void {
    const wait = decision.banned ? decision.banned.until - now : maxRetry(decision) - soonerByMs;
    if (wait <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { storedAt: now, until: now + wait, cost, decision });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}

/** The refusal lasts until the last refusing limit admits again. */
function maxRetry(decision: KeyDecision): number {
  if (decision.banned) return 0;
  return decision.outcomes.reduce((m, o) => (o.shadow || o.decision.allowed ? m : Math.max(m, o.decision.retryAfterMs)), 0);
}
