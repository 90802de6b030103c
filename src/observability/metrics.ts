/** Events counted per rule. */
export type MetricEvent = 'allowed' | 'refused' | 'shadow_refused' | 'fail_open' | 'fail_closed' | 'blocked' | 'banned';

export interface AnalyticsSink {
  writeDataPoint(point: { blobs?: string[]; doubles?: number[]; indexes?: string[] }): void;
}

/**
 * Counters of decisions per rule, kept in the isolate for the dashboard and
 * written to Workers Analytics Engine when a dataset is bound.
 */
export class Metrics {
  private readonly counts = new Map<string, Partial<Record<MetricEvent, number>>>();
  private readonly recent: Array<{ at: number; rule: string; key: string; limit: string }> = [];

  /**
   * Counts one decision of a rule, and writes its Analytics Engine point:
   * `blobs: [rule, event]`, or `[rule, event, keyDigest]` for decisions about
   * one key (refusals, shadow refusals, bans), so the deployment's most
   * refused keys can be read; `doubles: [1]`; `indexes: [rule]`, the
   * sampling key, since every query reads one rule's points.
   */
  count(rule: string, event: MetricEvent, sink?: AnalyticsSink, keyDigest?: string): void {
    let events = this.counts.get(rule);
    if (!events) this.counts.set(rule, (events = {}));
    events[event] = (events[event] ?? 0) + 1;
    sink?.writeDataPoint({ blobs: keyDigest ? [rule, event, keyDigest] : [rule, event], doubles: [1], indexes: [rule] });
  }

  /** Remembers a refusal for the dashboard's "recent refusals in this isolate" (the last 100). */
  refusal(at: number, rule: string, key: string, limit: string): void {
    this.recent.push({ at, rule, key, limit });
    if (this.recent.length > 100) this.recent.shift();
  }

  snapshot(): {
    counts: Record<string, Partial<Record<MetricEvent, number>>>;
    recentRefusals: ReadonlyArray<{ at: number; rule: string; key: string; limit: string }>;
  } {
    const counts: Record<string, Partial<Record<MetricEvent, number>>> = {};
    for (const [rule, events] of this.counts) counts[rule] = { ...events };
    return { counts, recentRefusals: [...this.recent].reverse() };
  }
}
