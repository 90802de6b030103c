import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './retry-after';

describe('reading an origin Retry-After', () => {
  it.each([
    ['120', 120_000],
    [' 5 ', 5_000],
    ['0', 0],
    ['Wed, 21 Oct 2026 07:28:00 GMT', 60_000],
    ['Wed, 21 Oct 2026 07:26:00 GMT', 0],
  ])('reads %j as %s ms', (value, ms) => {
    expect(retryAfterMs(value, Date.parse('2026-10-21T07:27:00Z'))).toBe(ms);
  });

  it.each([null, '', '-1', '1.5', 'soon', 'Wed, 99 Foo 2026 GMT'])('does not read %j', (value) => {
    expect(retryAfterMs(value, 0)).toBeUndefined();
  });
});
