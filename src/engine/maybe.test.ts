import { describe, expect, it } from 'vitest';
import { after, allOf, isPending } from './maybe';

describe('MaybePromise helpers', () => {
  it('hands a plain value on at once, without a promise', () => {
    const seen: number[] = [];
    const out = after(2, (x) => {
      seen.push(x);
      return x * 3;
    });
    expect(out).toBe(6);
    expect(seen).toEqual([2]);
  });

  it('waits for a promise, or any thenable, before going on', async () => {
    const out = after(Promise.resolve(2), (x) => x * 3);
    expect(isPending(out)).toBe(true);
    await expect(out).resolves.toBe(6);
    const thenable = { then: (resolve: (x: number) => void) => resolve(5) } as unknown as Promise<number>;
    await expect(after(thenable, (x) => x + 1)).resolves.toBe(6);
  });

  it('passes a rejection on without calling next', async () => {
    let called = false;
    const out = after(Promise.reject(new Error('down')), () => {
      called = true;
      return 1;
    });
    await expect(out).rejects.toThrow('down');
    expect(called).toBe(false);
  });

  it('gathers values: the same array when none is pending, a promise of them all otherwise', async () => {
    const plain = [1, 2, 3];
    expect(allOf(plain)).toBe(plain);
    const mixed = allOf([1, Promise.resolve(2), 3]);
    expect(isPending(mixed)).toBe(true);
    await expect(mixed).resolves.toEqual([1, 2, 3]);
  });

  it('wraps a single value: at once when plain, as a promise of a one-item list when pending, rejecting as it does', async () => {
    const plain = [4];
    expect(allOf(plain)).toBe(plain);
    const pending = allOf([Promise.resolve(5)]);
    expect(isPending(pending)).toBe(true);
    await expect(pending).resolves.toEqual([5]);
    await expect(allOf([Promise.reject(new Error('down'))])).rejects.toThrow('down');
  });

  it('tells plain objects, null and numbers from promises', () => {
    expect(isPending({ kind: 'allow' })).toBe(false);
    expect(isPending(null as unknown as number)).toBe(false);
    expect(isPending(0)).toBe(false);
    expect(isPending(Promise.resolve())).toBe(true);
  });
});
