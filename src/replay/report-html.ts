import { formatDuration } from '../policy/duration';
import type { LimitReport, ReplayReport } from './replay';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLOURS = ['#1f5fa8', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085', '#7f8c8d', '#2c3e50'];

/** Refusals over time, one line per limit that refused, as SVG. */
export function refusalChart(report: ReplayReport): string {
  const limits = report.limits.filter((l) => l.refused > 0);
  const width = 900;
  const height = 320;
  const left = 60;
  const right = 20;
  const top = 20;
  const bottom = 40;
  const buckets = Math.max(1, ...limits.map((l) => l.timeline.length));
  const max = Math.max(1, ...limits.flatMap((l) => l.timeline));
  const x = (i: number) => left + (buckets === 1 ? 0 : (i / (buckets - 1)) * (width - left - right));
  const y = (v: number) => top + (1 - v / max) * (height - top - bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Refusals per ${esc(formatDuration(report.bucketMs))}" font-family="sans-serif" font-size="11">`,
  ];
  parts.push(
    `<line x1="${left}" y1="${y(0)}" x2="${width - right}" y2="${y(0)}" stroke="#999"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${y(0)}" stroke="#999"/>`,
  );
  parts.push(
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${max}</text>`,
    `<text x="${left - 6}" y="${y(0)}" text-anchor="end">0</text>`,
  );
  parts.push(`<text x="${left}" y="${height - 20}">${esc(new Date(report.from).toISOString().slice(0, 16).replace('T', ' '))}</text>`);
  parts.push(
    `<text x="${width - right}" y="${height - 20}" text-anchor="end">${esc(new Date(report.to).toISOString().slice(0, 16).replace('T', ' '))} UTC</text>`,
  );
  limits.forEach((l, n) => {
    const colour = COLOURS[n % COLOURS.length]!;
    const points = l.timeline.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points}"><title>${esc(`${l.rule}/${l.limit}`)}</title></polyline>`,
    );
    parts.push(
      `<rect x="${left + 10 + (n % 4) * 200}" y="${height - 12 - Math.floor(n / 4) * 0}" width="10" height="3" fill="${colour}"/><text x="${left + 24 + (n % 4) * 200}" y="${height - 8}">${esc(`${l.rule}/${l.limit}`)}</text>`,
    );
  });
  if (limits.length === 0)
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">No limit would refuse anything.</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

function limitRow(l: LimitReport): string {
  const keys = l.topKeys.map((k) => `<code>${esc(k.key)}</code> ${k.refused}`).join('<br>') || '-';
  const peak = Number.isFinite(l.peakUse) ? `${(l.peakUse * 100).toFixed(1)}%` : 'n/a';
  const at = l.peakUse > 0 ? new Date(l.peakAt).toISOString().slice(0, 19).replace('T', ' ') : '-';
  return `<tr><td>${esc(`${l.rule}/${l.limit}`)}${l.shadow ? ' (shadow)' : ''}</td><td>${l.max}/${esc(formatDuration(l.windowMs))}</td><td>${l.refused}</td><td>${l.keysRefused}</td><td>${peak}</td><td>${at}</td><td>${keys}</td></tr>`;
}

/**
 * A self-contained HTML page of the replay: totals, the per-rule comparison
 * with the live decisions, the per-limit table and refusals over time as an
 * inline SVG chart (no scripts, nothing fetched).
 */
export function replayHtml(report: ReplayReport): string {
  const rules = report.rules
    .map(
      (r) =>
        `<tr><td>${esc(r.rule)}</td><td>${r.matched}</td><td>${r.unkeyed}</td><td>${r.refused}</td><td>${r.newlyRefused}</td><td>${r.noLongerRefused}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Replay of ${esc(report.policy)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}td:first-child,th:first-child{text-align:left}code{font-size:90%}</style></head>
<body>
<h1>Replay of policy “${esc(report.policy)}”</h1>
<p>${report.records} records, ${esc(new Date(report.from).toISOString())} to ${esc(new Date(report.to).toISOString())}.
Would refuse <strong>${report.refused}</strong> requests; the live limiter refused ${report.liveRefused}.
Newly refused: ${report.newlyRefused}; no longer refused: ${report.noLongerRefused}.</p>
<h2>Refusals per ${esc(formatDuration(report.bucketMs))}</h2>
${refusalChart(report)}
<h2>Rules against the live decisions</h2>
<table><thead><tr><th>rule</th><th>matched</th><th>unkeyed</th><th>refused</th><th>newly refused</th><th>no longer refused</th></tr></thead><tbody>
${rules}
</tbody></table>
<h2>Limits</h2>
<table><thead><tr><th>rule/limit</th><th>limit</th><th>refused</th><th>keys</th><th>peak use</th><th>peak at (UTC)</th><th>most refused keys</th></tr></thead><tbody>
${report.limits.map(limitRow).join('\n')}
</tbody></table>
</body></html>
`;
}
