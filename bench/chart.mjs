// Draws the results as an SVG: throughput as a ratio to pass-through and
// median latency, per scenario and variant, with the spread across runs.
const COLORS = {
  pass: '#9ca3af',
  norule: '#c4b5fd',
  memory: '#a5f3fc',
  rpc: '#d1d5db',
  rpcwrite: '#6b7280',
  nowrite: '#93c5fd',
  exact: '#2563eb',
  lease: '#16a34a',
  binding: '#f59e0b',
  peer: '#dc2626',
};

const SHORT = {
  hot: 'one hot key',
  warm: '1,000 warm keys',
  fresh: 'never-seen keys',
  flood: 'flood: refusals',
  latency: 'one client, hot key',
};

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One panel of bars per scenario and variant. A linear axis from 0 to `max`, or with `logMin` a logarithmic one from
 * `logMin` to `max` (gridlines at powers of ten), for latencies that span milliseconds to seconds.
 */
function panel({ x, y, width, height, title, scenarios, variants, value, spread, max, logMin, format, reference, summary }) {
  const out = [];
  const left = 50;
  const plotW = width - left - 10;
  const plotH = height - 70;
  const groupW = plotW / scenarios.length;
  const barW = Math.min(18, (groupW - 16) / variants.length);
  const share = (v) =>
    logMin === undefined ? Math.min(v, max) / max : Math.log10(Math.min(Math.max(v, logMin), max) / logMin) / Math.log10(max / logMin);
  const yOf = (v) => y + 30 + plotH - share(v) * plotH;
  out.push(`<text x="${x + width / 2}" y="${y + 16}" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>`);
  const grid =
    logMin === undefined
      ? [0, 1, 2, 3, 4].map((i) => (max / 4) * i)
      : Array.from({ length: Math.floor(Math.log10(max / logMin)) + 1 }, (_, i) => logMin * 10 ** i);
  for (const v of grid) {
    const ty = yOf(v);
    out.push(`<line x1="${x + left}" x2="${x + width - 10}" y1="${ty}" y2="${ty}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${x + left - 6}" y="${ty + 4}" text-anchor="end" font-size="10" fill="#6b7280">${format(v)}</text>`);
  }
  if (reference !== undefined) {
    const ty = yOf(reference);
    out.push(`<line x1="${x + left}" x2="${x + width - 10}" y1="${ty}" y2="${ty}" stroke="#111827" stroke-dasharray="4 3"/>`);
  }
  scenarios.forEach(([key, label], g) => {
    const gx = x + left + g * groupW + (groupW - barW * variants.length) / 2;
    variants.forEach((variant, i) => {
      if (!summary[key]?.[variant]) return;
      const v = value(key, variant);
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const bx = gx + i * barW;
      const top = yOf(v);
      out.push(
        `<rect x="${bx + 1}" y="${top}" width="${barW - 2}" height="${yOf(logMin ?? 0) - top}" fill="${COLORS[variant]}"><title>${esc(`${label} · ${variant}: ${format(v)}`)}</title></rect>`,
      );
      const range = spread?.(key, variant);
      if (range) {
        const [lo, hi] = range;
        out.push(`<line x1="${bx + barW / 2}" x2="${bx + barW / 2}" y1="${yOf(lo)}" y2="${yOf(hi)}" stroke="#111827"/>`);
      }
      if (v > max) out.push(`<text x="${bx + barW / 2}" y="${top - 3}" text-anchor="middle" font-size="9">${format(v)}</text>`);
    });
    const words = label.split(', ');
    for (const [j, w] of words.entries()) {
      out.push(
        `<text x="${x + left + g * groupW + groupW / 2}" y="${y + 30 + plotH + 16 + j * 12}" text-anchor="middle" font-size="10">${esc(w)}</text>`,
      );
    }
  });
  return out.join('\n');
}

/** The SVG document for a results object written by run.mjs. */
export function chart(results) {
  const variants = ['pass', 'norule', 'memory', 'rpc', 'rpcwrite', 'nowrite', 'exact', 'lease', 'binding', 'peer'];
  const width = 980;
  const { summary, labels, scenarios } = results;
  const throughputScenarios = Object.keys(scenarios)
    .filter((k) => k !== 'latency')
    .map((k) => [k, SHORT[k] ?? scenarios[k]]);
  const latencyScenarios = Object.keys(scenarios).map((k) => [k, SHORT[k] ?? scenarios[k]]);
  const ratioMax = Math.max(1.2, ...throughputScenarios.flatMap(([k]) => variants.map((v) => summary[k][v]?.ratioSpread[1] ?? 0)));
  const latencyMax = Math.max(...latencyScenarios.flatMap(([k]) => variants.map((v) => summary[k][v]?.p50Ms ?? 0))) * 1.1;
  const tailOf = (k, v) => Math.max(summary[k][v]?.p99Ms ?? 0, summary[k][v]?.p999Ms ?? 0);
  // Tails span a tenth of a millisecond (one client) to seconds (new objects): a log axis up to the next power of ten.
  const tailMax = 10 ** Math.ceil(Math.log10(Math.max(1, ...latencyScenarios.flatMap(([k]) => variants.map((v) => tailOf(k, v))))));
  const shown = variants.filter((v) => Object.values(summary).some((s) => s[v]));
  const height = 1010 + Math.floor((shown.length - 1) / 4) * 18;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="700">edge-ratelimit benchmark — ${esc(results.machine.cpu)}, ${results.machine.nproc} cores, ${results.runs} run(s), ${esc(results.date.slice(0, 16))}Z</text>`,
    panel({
      x: 0,
      y: 40,
      width,
      height: 320,
      title: 'Throughput as a ratio to pass-through (same run; bars: median, whiskers: min–max over runs; dashed: 1.0)',
      scenarios: throughputScenarios,
      variants,
      value: (k, v) => summary[k][v].ratio,
      spread: (k, v) => summary[k][v].ratioSpread,
      max: ratioMax,
      format: (v) => v.toFixed(v < 0.1 ? 3 : 2),
      reference: 1,
      summary,
    }),
    panel({
      x: 0,
      y: 370,
      width,
      height: 290,
      title: 'Median latency (ms) under each scenario’s load; the last group is one client at a time',
      scenarios: latencyScenarios,
      variants,
      value: (k, v) => summary[k][v].p50Ms,
      max: latencyMax,
      format: (v) => v.toFixed(2),
      summary,
    }),
    panel({
      x: 0,
      y: 670,
      width,
      height: 310,
      title: 'Tail latency (ms, log scale): bars p99, whiskers up to p99.9 (medians over runs)',
      scenarios: latencyScenarios,
      variants,
      value: (k, v) => summary[k][v].p99Ms,
      spread: (k, v) => (Number.isFinite(summary[k][v].p999Ms) ? [summary[k][v].p99Ms, summary[k][v].p999Ms] : undefined),
      max: tailMax,
      logMin: 0.1,
      format: (v) => (v < 1 ? v.toFixed(1) : v.toFixed(0)),
      summary,
    }),
  ];
  shown.forEach((v, i) => {
    const lx = 20 + (i % 4) * 240;
    const ly = 990 + Math.floor(i / 4) * 18;
    parts.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLORS[v]}"/><text x="${lx + 16}" y="${ly + 10}" font-size="11">${esc(labels[v])}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
