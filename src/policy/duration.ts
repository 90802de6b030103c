const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses a duration written as a number and a unit (`500ms`, `30s`, `5m`,
 * `25h`, `1d`) into milliseconds. Returns `undefined` for anything else.
 *
 * @example parseDuration('5m') // 300000
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNITS[match[2]!] ?? Number.NaN);
  return Number.isFinite(ms) && Number.isInteger(ms) ? ms : undefined;
}

/**
 * Writes milliseconds as the shortest whole-unit duration (`30s`, `5m`,
 * `25h`), the form window names and `X-RateLimit-Window` use.
 */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
