import { describe, expect, it } from 'vitest';
import { duplicateLimitNames } from './limit-names';

describe('duplicateLimitNames', () => {
  const cases: Array<[string, Array<{ name?: string; window: unknown }>, Array<{ index: number; message: string }>]> = [
    ['distinct windows', [{ window: 60_000 }, { window: 3_600_000 }], []],
    [
      'distinct names on one window',
      [
        { name: 'a', window: 60_000 },
        { name: 'b', window: 60_000 },
      ],
      [],
    ],
    [
      'a repeated name',
      [
        { name: 'a', window: 60_000 },
        { name: 'a', window: 3_600_000 },
      ],
      [{ index: 1, message: 'duplicate limit name "a"' }],
    ],
    [
      'a repeated window',
      [{ window: 60_000 }, { window: 60_000 }],
      [{ index: 1, message: 'another limit is already named "1m" after its window: give these limits distinct names' }],
    ],
    [
      'a name equal to another window',
      [{ window: 3_600_000 }, { name: '1h', window: 60_000 }],
      [{ index: 1, message: 'duplicate limit name "1h"' }],
    ],
    [
      'three of one name',
      [
        { name: 'a', window: 1000 },
        { name: 'a', window: 2000 },
        { name: 'a', window: 3000 },
      ],
      [
        { index: 1, message: 'duplicate limit name "a"' },
        { index: 2, message: 'duplicate limit name "a"' },
      ],
    ],
    ['a window not yet parsed', [{ window: '1m' }, { window: '1m' }], []],
  ];
  it.each(cases)('%s', (_, limits, expected) => {
    expect(duplicateLimitNames(limits)).toEqual(expected);
  });
});
