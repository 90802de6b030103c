import { formatDuration } from '../policy/duration';
import type { ReplayReport } from './replay';

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(share < 10 ? 1 : 0)}%` : 'n/a');

/**
 * The replay's findings as plain text tables for a terminal: the totals, each
 * rule against the live decisions, each limit's refusals, peak use and most
 * refused keys.
 *
 * @example
 * console.log(formatReplayTable(replay.report()));
 */
export function formatReplayTable(report: ReplayReport): string {
  const out: string[] = [];
  const span = report.records ? `${new Date(report.from).toISOString()} to ${new Date(report.to).toISOString()}` : 'no records';
  out.push(`Policy "${report.policy}" replayed over ${report.records} records (${span}).`);
  out.push(
    `Would refuse ${report.refused} requests; the live limiter refused ${report.liveRefused}. Newly refused: ${report.newlyRefused}; no longer refused: ${report.noLongerRefused}.`,
  );
  if (report.sampled > 0) out.push(`${report.sampled} records were sampled: each stands for 1/rate requests, so counts are estimates.`);
  if (report.outOfOrder > 0) out.push(`${report.outOfOrder} records were out of time order: sort the records by "t" for an exact replay.`);
  out.push('');
  out.push(
    table(
      ['rule', 'matched', 'unkeyed', 'refused', 'newly refused', 'no longer refused'],
      report.rules.map((r) => [
        r.rule,
        String(r.matched),
        String(r.unkeyed),
        String(r.refused),
        String(r.newlyRefused),
        String(r.noLongerRefused),
      ]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['rule/limit', 'limit', 'refused', 'keys', 'peak use', 'peak at', 'top keys (refusals)'],
      report.limits.map((l) => [
        `${l.rule}/${l.limit}${l.shadow ? ' (shadow)' : ''}`,
        `${l.max}/${formatDuration(l.windowMs)}`,
        String(l.refused),
        String(l.keysRefused),
        percent(l.peakUse),
        l.peakUse > 0 ? new Date(l.peakAt).toISOString().slice(0, 19).replace('T', ' ') : '-',
        l.topKeys
          .slice(0, 3)
          .map((k) => `${k.key} (${k.refused})`)
          .join(', ') || '-',
      ]),
    ),
  );
  if (report.rules.some((r) => r.unkeyed > 0)) {
    out.push('');
    out.push(
      "Unkeyed: requests a rule matched whose record holds no key of the rule's kind (the live policy keyed no rule that way); they were not decided by it.",
    );
  }
  return out.join('\n');
}
