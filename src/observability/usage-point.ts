import type { Verdict } from '../engine/verdict';
import type { AnalyticsSink } from './metrics';

/** The first blob of a usage point: no rule can have this name (rule names start with a letter or digit). */
export const USAGE_BLOB = '.usage';

/** The identity value a usage point writes when the caller has none (no org, say). */
export const NONE = '';

/**
 * The Analytics Engine data point of one decided request of a known
 * customer, or `undefined` for anonymous callers (no subject and no org).
 *
 * - `indexes: [subject]` (the sampling key; the org when there is no subject);
 * - `blobs: ['.usage', subject, org, tier, decision]`;
 * - `doubles: [allowed, refused, units]`: 1 or 0, 1 or 0, and the cost units
 *   charged (the largest cost of the rules that applied; 0 when refused).
 *
 * Subjects come from identity records or verified claims, else they are the
 * credential's SHA-256 digest: never the credential itself.
 *
 * @example
 * const point = usagePoint(verdict, request.headers);
 * if (point) env.RATE_LIMIT_ANALYTICS.writeDataPoint(point);
 */
export function usagePoint(verdict: Verdict, headers: Headers): { indexes: string[]; blobs: string[]; doubles: number[] } | undefined {
  const { subject, org } = verdict.view.identity;
  if (subject === undefined && org === undefined) return undefined;
  const allowed = verdict.kind === 'allow';
  return {
    indexes: [(subject ?? org)!.slice(0, 96)],
    blobs: [USAGE_BLOB, subject ?? NONE, org ?? NONE, verdict.view.tier, verdict.kind],
    doubles: [allowed ? 1 : 0, allowed ? 0 : 1, allowed ? unitsOf(verdict, headers) : 0],
  };
}

/** The cost units an admitted request was charged: the largest cost among the rules that applied. */
function unitsOf(verdict: Verdict, headers: Headers): number {
  let units = 0;
  for (const { rule } of verdict.results) {
    const cost = rule.rule.cost;
    let n: number;
    if (typeof cost === 'number') n = cost;
    else {
      const raw = headers.get(cost.header);
      const parsed = raw === null ? Number.NaN : Number(raw);
      n = Number.isInteger(parsed) && parsed >= 0 ? Math.min(parsed, cost.max) : cost.default;
    }
    if (n > units) units = n;
  }
  return units;
}

/** Writes the usage point of a request, when there is a dataset and a known customer. */
export function writeUsage(verdict: Verdict, headers: Headers, sink: AnalyticsSink | undefined): void {
  if (!sink) return;
  const point = usagePoint(verdict, headers);
  if (point) sink.writeDataPoint(point);
}
