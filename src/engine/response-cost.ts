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
