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

  count(rule: string, event: MetricEvent, sink?: AnalyticsSink): void {
    let events = this.counts.get(rule);
    if (!events) this.counts.set(rule, (events = {}));
    events[event] = (events[event] ?? 0) + 1;
    sink?.writeDataPoint({ blobs: [rule, event], doubles: [1], indexes: [rule] });
  }

  /** Remembers a refusal for the dashboard's "recent refusals" (the last 100). */
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
