import type { UsageDay } from '../operations/usage';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A customer's usage per day as a server-rendered SVG bar chart: allowed
 * (dark) and refused (red) requests stacked per day, every day of the range
 * present (days without points are empty). Days of several subjects (an org)
 * are added up.
 */
export function usageChart(days: readonly UsageDay[], from: string, to: string): string {
  const totals = new Map<string, { allowed: number; refused: number }>();
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000)
    totals.set(new Date(t).toISOString().slice(0, 10), { allowed: 0, refused: 0 });
  for (const d of days) {
    const day = totals.get(d.day);
    if (!day) continue;
    day.allowed += d.allowed;
    day.refused += d.refused;
  }
  const entries = [...totals];
  const width = 760;
  const height = 240;
  const left = 56;
  const bottom = 28;
  const top = 12;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...entries.map(([, d]) => d.allowed + d.refused));
  const slot = (width - left - 8) / Math.max(1, entries.length);
  const bar = Math.max(1, slot * 0.8);
  const y = (v: number) => (v / max) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="usage-chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Allowed and refused requests per day, ${esc(from)} to ${esc(to)}" font-family="system-ui,sans-serif" font-size="11">`,
  ];
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - 8}" y2="${top + plotH}" stroke="#99a"/>`);
  parts.push(
    `<text x="${left - 6}" y="${top + 8}" text-anchor="end">${max}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>`,
  );
  entries.forEach(([day, d], i) => {
    const x = left + i * slot + (slot - bar) / 2;
    const a = y(d.allowed);
    const r = y(d.refused);
    parts.push(
      `<g data-day="${day}" data-allowed="${d.allowed}" data-refused="${d.refused}"><title>${day}: ${d.allowed} allowed, ${d.refused} refused</title>` +
        `<rect x="${x.toFixed(1)}" y="${(top + plotH - a).toFixed(1)}" width="${bar.toFixed(1)}" height="${a.toFixed(1)}" fill="#1f5fa8"/>` +
        `<rect x="${x.toFixed(1)}" y="${(top + plotH - a - r).toFixed(1)}" width="${bar.toFixed(1)}" height="${r.toFixed(1)}" fill="#c0392b"/></g>`,
    );
  });
  parts.push(
    `<text x="${left}" y="${height - 8}">${esc(from)}</text><text x="${width - 8}" y="${height - 8}" text-anchor="end">${esc(to)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}
