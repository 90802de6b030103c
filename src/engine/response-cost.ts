import type { LimitDecision } from '../algorithms/types';
import type { ResponseCost } from '../policy/schema';

/** A cost header's value as the origin wrote it: whole units, at most 15 digits, spaces around allowed. */
const WHOLE_UNITS = /^[ \t]*(\d{1,15})[ \t]*$/;

/**
 * What a response says a request cost (a rule's `responseCost`):
 * - `units`: the reported cost, bounded by `max` (`capped` when it was above);
 * - `missing` / `malformed`: no usable value; the advance stands and nothing is settled.
 */
export type ReportedCost =
  | { readonly kind: 'units'; readonly units: number; readonly capped: boolean }
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed' };

/**
 * Reads a response's cost header. Only whole numbers written in decimal
 * digits count (`10`, ` 10 `); `1e3`, `0x10`, `-1`, `2.5` and an empty value
 * are malformed. Repeated header lines arrive joined (`10, 20`), which is
 * malformed too: a response states one cost.
 *
 * @example
 * reportedCost(new Headers({ 'X-Cost': '2000' }), { header: 'X-Cost', max: 1000, keep: false });
 * // { kind: 'units', units: 1000, capped: true }
 */
export function reportedCost(headers: Headers, setting: ResponseCost): ReportedCost {
  const raw = headers.get(setting.header);
  if (raw === null) return { kind: 'missing' };
  const digits = WHOLE_UNITS.exec(raw)?.[1];
  if (digits === undefined) return { kind: 'malformed' };
  const units = Number(digits);
  return units > setting.max ? { kind: 'units', units: setting.max, capped: true } : { kind: 'units', units, capped: false };
}

/**
 * The units to settle on one limit once the response reported `units`, the
 * request having been admitted on `advance`: positive is charged, negative
 * is given back. A give-back never exceeds the advance, so it is bounded by
 * what the request counted.
 */
export function costDifference(units: number, advance: number): number {
  return Math.max(units, 0) - advance;
}

/** A limit that counted a request of a `responseCost` rule at its advance, as the verdict keeps it. */
export interface AdvancedLimit {
  /** The rule's setting, read once per response for all its limits. */
  readonly setting: ResponseCost;
  readonly advance: number;
  /** The limit's `countWhen`: a response its status does not keep gives the advance back whole, with nothing to settle. */
  readonly countWhen?: ((status: number) => boolean) | undefined;
  /** Whether units below the advance go back (not for leases: units spent from a lease stay spent). */
  readonly givesBack: boolean;
}

/**
 * What one limit settles once the response with `status` reported `units`
 * (`undefined`: nothing usable, the advance stands): units to charge
 * (positive) or give back (negative), 0 for nothing.
 */
export function settledUnits(limit: AdvancedLimit, status: number, units: number | undefined): number {
  if (units === undefined || (limit.countWhen && !limit.countWhen(status))) return 0;
  const difference = costDifference(units, limit.advance);
  return difference < 0 && !limit.givesBack ? 0 : difference;
}

/**
 * The results of a verdict as its response leaves them: each limit in
 * `advanced` (by its index in `results`) moved by what {@link settledUnits}
 * settles, `used` up and `remaining` down for a charge (never below 0), the
 * other way for a give-back (never past the limit). The headers of the
 * response that reported the cost then show the budget the next request
 * finds. Pure; `results` itself when nothing moves.
 *
 * @example
 * // Admitted on 1 of 100 (remaining 99), the response reports 10:
 * resultsAfterResponse(results, advanced, 200, new Headers({ 'X-Cost': '10' }))[0].decision.remaining; // 90
 */
export function resultsAfterResponse<R extends { readonly decision: LimitDecision }>(
  results: readonly R[],
  advanced: ReadonlyMap<number, AdvancedLimit>,
  status: number,
  headers: Headers,
): readonly R[] {
  let moved: R[] | undefined;
  const read = new Map<ResponseCost, number | undefined>();
  for (const [index, limit] of advanced) {
    const result = results[index];
    if (!result) continue;
    if (!read.has(limit.setting)) {
      const reported = reportedCost(headers, limit.setting);
      read.set(limit.setting, reported.kind === 'units' ? reported.units : undefined);
    }
    const units = settledUnits(limit, status, read.get(limit.setting));
    if (units === 0) continue;
    const d = result.decision;
    moved ??= [...results];
    moved[index] = {
      ...result,
      decision: { ...d, used: Math.max(0, d.used + units), remaining: Math.min(d.limit, Math.max(0, d.remaining - units)) },
    };
  }
  return moved ?? results;
}
