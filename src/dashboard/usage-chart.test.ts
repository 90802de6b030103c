import { describe, expect, it } from 'vitest';
import { usageChart } from './usage-chart';

const bars = (svg: string) =>
  [...svg.matchAll(/data-day="([^"]+)" data-allowed="(\d+)" data-refused="(\d+)"/g)].map((m) => [m[1], Number(m[2]), Number(m[3])]);

describe('usageChart', () => {
  it('draws every day of the range, days without points empty, and adds up the subjects of a day', () => {
    const svg = usageChart(
      [
        { day: '2026-11-01', subject: 'a', org: 'acme', allowed: 10, refused: 2, units: 10 },
        { day: '2026-11-01', subject: 'b', org: 'acme', allowed: 5, refused: 0, units: 5 },
        { day: '2026-11-03', subject: 'a', org: 'acme', allowed: 7, refused: 1, units: 7 },
      ],
      '2026-11-01',
      '2026-11-03',
    );
    expect(bars(svg)).toEqual([
      ['2026-11-01', 15, 2],
      ['2026-11-02', 0, 0],
      ['2026-11-03', 7, 1],
    ]);
    // The tallest day fills the plot: its two bars together are the plot's height (200 px).
    const heights = [...svg.matchAll(/height="([\d.]+)" fill/g)].map((m) => Number(m[1]));
    expect(heights[0]! + heights[1]!).toBeCloseTo(200, 5);
  });

  it('draws a range without data as empty days, labelled with the range', () => {
    const svg = usageChart([], '2026-11-01', '2026-11-02');
    expect(bars(svg)).toEqual([
      ['2026-11-01', 0, 0],
      ['2026-11-02', 0, 0],
    ]);
    expect(svg).toContain('aria-label="Allowed and refused requests per day, 2026-11-01 to 2026-11-02"');
  });
});
