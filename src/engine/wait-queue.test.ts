import { describe, expect, it } from 'vitest';
import { WaitQueue } from './wait-queue';

describe('WaitQueue', () => {
  it('takes places up to the bound, per key', () => {
    const queue = new WaitQueue();
    expect([1, 2, 3].map(() => queue.enter('a', 2, 0, 500))).toEqual([true, true, false]);
    expect(queue.enter('b', 2, 0, 500)).toBe(true);
    expect([queue.size('a', 0), queue.size('b', 0)]).toEqual([2, 1]);
    expect(queue.hasRoom('a', 2, 0)).toBe(false);
    expect(queue.hasRoom('a', 3, 0)).toBe(true);
  });

  it('frees each place when its wait ends by the clock, whether or not its request comes back', () => {
    const queue = new WaitQueue();
    queue.enter('a', 2, 0, 100);
    queue.enter('a', 2, 0, 300);
    expect(queue.size('a', 99)).toBe(2);
    expect(queue.size('a', 100)).toBe(1);
    expect(queue.enter('a', 2, 100, 400)).toBe(true);
    expect(queue.enter('a', 2, 100, 400)).toBe(false);
    expect(queue.size('a', 400)).toBe(0);
  });

  it('gives back a place taken for a request refused after all', () => {
    const queue = new WaitQueue();
    queue.enter('a', 1, 0, 200);
    queue.leave('a', 200);
    expect(queue.size('a', 0)).toBe(0);
    expect(queue.enter('a', 1, 0, 200)).toBe(true);
    // Giving back a place never taken changes nothing.
    queue.leave('a', 999);
    queue.leave('b', 200);
    expect(queue.size('a', 0)).toBe(1);
  });

  it('keeps at most its bound of keys, dropping the one that started waiting first', () => {
    const queue = new WaitQueue(2);
    queue.enter('a', 5, 0, 1000);
    queue.enter('b', 5, 0, 1000);
    queue.enter('c', 5, 0, 1000);
    expect([queue.size('a', 0), queue.size('b', 0), queue.size('c', 0)]).toEqual([0, 1, 1]);
  });
});
