import type { Row } from './report';

/** A horizontal bar chart of added p50 and p99 latency per run, as SVG; p99 bars on a log scale so 1 ms and 1 s both show. */
export function chart(rows: readonly Row[]): string {
  const barH = 14;
  const rowH = 2 * barH + 12;
  const left = 330;
  const width = 820;
  const plot = width - left - 60;
  const top = 40;
  const height = top + rows.length * rowH + 40;
  const max = Math.max(...rows.map((r) => r.p99), 10);
  // log10(1 + ms): 0 ms sits at the axis, every decade gets the same width.
  const x = (v: number) => (Math.log10(1 + v) / Math.log10(1 + max)) * plot;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Added latency per request (ms, log scale): p50 dark, p99 light</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const label = `${r.case.id}, ${r.mode}`;
    parts.push(`<text x="${left - 8}" y="${y + barH + 4}" text-anchor="end">${esc(label)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(r.p50)).toFixed(1)}" height="${barH}" fill="#1f5fa8"/>`);
    parts.push(`<text x="${left + Math.max(1, x(r.p50)) + 4}" y="${y + barH - 3}">${r.p50.toFixed(1)}</text>`);
    parts.push(`<rect x="${left}" y="${y + barH}" width="${Math.max(1, x(r.p99)).toFixed(1)}" height="${barH}" fill="#8fb6e3"/>`);
    parts.push(`<text x="${left + Math.max(1, x(r.p99)) + 4}" y="${y + 2 * barH - 3}">${r.p99.toFixed(1)}</text>`);
  });
  const axisY = top + rows.length * rowH + 5;
  parts.push(`<line x1="${left}" y1="${axisY}" x2="${left + plot}" y2="${axisY}" stroke="#444"/>`);
  for (const tick of [0, 1, 10, 100, 1000, 10000].filter((t) => t <= max)) {
    parts.push(`<text x="${left + x(tick)}" y="${axisY + 15}" text-anchor="middle">${tick}</text>`);
  }
  parts.push('</svg>', '');
  return parts.join('\n');
}
