import { describe, expect, it } from 'vitest';
import { type NoticeState, thresholdsReached } from './thresholds';

const at = (current: number, windowStart = 0) => ({ windowStart, current, previous: 0, tat: 0 });

describe('thresholdsReached', () => {
  it('announces each threshold once, when the count first reaches it', () => {
    let stored: NoticeState | undefined;
    const seen: number[][] = [];
    for (const used of [79, 80, 81, 99, 100, 101]) {
      const step = thresholdsReached(stored, at(used), 100, [80, 100]);
      stored = step.state;
      seen.push(step.reached);
    }
    expect(seen).toEqual([[], [80], [], [], [100], []]);
  });

  it('announces every threshold a large cost jumps past at once', () => {
    expect(thresholdsReached(undefined, at(120), 100, [50, 80, 100]).reached).toEqual([50, 80, 100]);
  });

  it('starts afresh in a new window', () => {
    const first = thresholdsReached(undefined, at(90, 0), 100, [80]);
    expect(thresholdsReached(first.state, at(90, 0), 100, [80]).reached).toEqual([]);
    expect(thresholdsReached(first.state, at(85, 60_000), 100, [80])).toEqual({
      reached: [80],
      state: { windowStart: 60_000, sent: [80] },
    });
  });

  it('after a downgrade, announces what the new limit puts behind the count, never one twice', () => {
    const before = thresholdsReached(undefined, at(50), 100, [80, 100]);
    expect(before.reached).toEqual([]);
    const downgraded = thresholdsReached(before.state, at(51), 60, [80, 100]);
    expect(downgraded.reached).toEqual([80]);
    expect(thresholdsReached(downgraded.state, at(52), 100, [80, 100]).reached).toEqual([]);
  });

  it('asks for no write until a threshold is reached', () => {
    expect(thresholdsReached(undefined, at(10), 100, [80])).toEqual({ reached: [], state: undefined });
    const stored = { windowStart: 0, sent: [80] };
    expect(thresholdsReached(stored, at(90), 100, [80, 100]).state).toBe(stored);
  });

  it('a limit of 0 announces nothing', () => {
    expect(thresholdsReached(undefined, at(5), 0, [100]).reached).toEqual([]);
  });
});
