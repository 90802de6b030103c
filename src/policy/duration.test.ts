import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['1s', 1000],
    ['30s', 30_000],
    ['5m', 300_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['25h', 90_000_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', 'm', '5 minutes', '-5s', '5w', '1.0005s', 's5'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [30_000, '30s'],
    [300_000, '5m'],
    [3_600_000, '1h'],
    [90_000_000, '25h'],
    [86_400_000, '1d'],
    [1500, '1500ms'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
