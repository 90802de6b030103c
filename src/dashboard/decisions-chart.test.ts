import { describe, expect, it } from 'vitest';
import { decisionsChart } from './decisions-chart';

const START = Date.UTC(2026, 11, 6, 18);
const values = (svg: string, event: string) => svg.match(new RegExp(`data-event="${event}" data-values="([^"]*)"`))![1];

describe('decisionsChart', () => {
  it('draws one line per decision over every hour, adding the points of an hour and leaving other rules out', () => {
    const svg = decisionsChart(
      'per-ip',
      [
        { hour: '2026-12-06T18:00:00Z', rule: 'per-ip', event: 'allowed', count: 100 },
        { hour: '2026-12-06T20:00:00Z', rule: 'per-ip', event: 'refused', count: 7 },
        { hour: '2026-12-06T20:00:00Z', rule: 'per-ip', event: 'refused', count: 3 },
        { hour: '2026-12-06T19:00:00Z', rule: 'login', event: 'refused', count: 50 },
        { hour: '2026-12-06T19:00:00Z', rule: 'per-ip', event: 'shadow_refused', count: 2 },
      ],
      START,
      4,
    );
    expect(values(svg, 'allowed')).toBe('100,0,0,0');
    expect(values(svg, 'refused')).toBe('0,0,10,0');
    expect(values(svg, 'shadow_refused')).toBe('0,2,0,0');
    expect(svg).toContain('data-rule="per-ip"');
  });
});
