/**
 * A `Retry-After` value in milliseconds from `now`: whole seconds, or an
 * HTTP date. `undefined` when absent or unreadable; a date in the past is 0.
 *
 * @example
 * retryAfterMs('120', 0) // 120_000
 * retryAfterMs('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('2026-10-21T07:27:00Z')) // 60_000
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates name the weekday and "GMT"; anything else (a bare number with a sign or a fraction) is unreadable.
  if (!/GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
