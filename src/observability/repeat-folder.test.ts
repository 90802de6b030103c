import { describe, expect, it } from 'vitest';
import { RepeatFolder } from './repeat-folder';

describe('RepeatFolder', () => {
  it('writes the first of a key in each period, carrying the ones folded since', () => {
    const folder = new RepeatFolder(1_000);
    const at = [0, 10, 20, 999, 1_000, 1_500, 3_200];
    expect(at.map((t) => folder.fold('a', t))).toEqual([1, 0, 0, 0, 4, 0, 2]);
  });

  it('keeps keys apart', () => {
    const folder = new RepeatFolder(1_000);
    expect([folder.fold('a', 0), folder.fold('b', 1), folder.fold('a', 2), folder.fold('b', 1_001)]).toEqual([1, 1, 0, 1]);
  });

  it('accounts for every refusal of a key: the counts written add up to all but those still folded', () => {
    const folder = new RepeatFolder(1_000);
    let written = 0;
    for (let t = 0; t < 10_000; t += 7) written += folder.fold('k', t);
    // The last period's repeats wait for the next line.
    const last = Math.ceil((10_000 - 9_000) / 7);
    expect(written).toBe(Math.ceil(10_000 / 7) - last + 1);
  });
});
