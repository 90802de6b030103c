import { CHARTED_EVENTS, type DecisionHour } from '../operations/decisions';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLOURS = { allowed: '#1f5fa8', refused: '#c0392b', shadow_refused: '#d68910' } as const;
const HOUR_MS = 3_600_000;

/**
 * One rule's decisions per hour across the deployment, as a server-rendered
 * SVG line chart: allowed, refused and shadow-refused, one line each, every
 * hour from `start` present (hours without points are zero).
 */
export function decisionsChart(rule: string, hours: readonly DecisionHour[], start: number, count: number): string {
  const series = Object.fromEntries(CHARTED_EVENTS.map((e) => [e, new Array<number>(count).fill(0)])) as Record<
    (typeof CHARTED_EVENTS)[number],
    number[]
  >;
  for (const h of hours) {
    if (h.rule !== rule) continue;
    const i = Math.floor((Date.parse(h.hour) - start) / HOUR_MS);
    if (i >= 0 && i < count) series[h.event][i]! += h.count;
  }
  const width = 760;
  const height = 180;
  const left = 56;
  const top = 10;
  const bottom = 34;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...CHARTED_EVENTS.flatMap((e) => series[e]));
  const x = (i: number) => left + (count <= 1 ? 0 : (i / (count - 1)) * (width - left - 8));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="decisions-chart" data-rule="${esc(rule)}" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Decisions of rule ${esc(rule)} per hour" font-family="system-ui,sans-serif" font-size="11">`,
  ];
  parts.push(
    `<line x1="${left}" y1="${top + plotH}" x2="${width - 8}" y2="${top + plotH}" stroke="#99a"/><text x="${left - 6}" y="${top + 8}" text-anchor="end">${max}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>`,
  );
  CHARTED_EVENTS.forEach((event, n) => {
    const points = series[event].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${COLOURS[event]}" stroke-width="1.5" data-event="${event}" data-values="${series[event].join(',')}" points="${points}"/>`,
    );
    parts.push(
      `<rect x="${left + n * 150}" y="${height - 12}" width="10" height="3" fill="${COLOURS[event]}"/><text x="${left + 14 + n * 150}" y="${height - 8}">${event.replace('_', '-')}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
