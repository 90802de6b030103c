import { describe, expect, it } from 'vitest';
import type { Clock } from './clock';
import { TimeoutError, withTimeout } from './with-timeout';

describe('withTimeout', () => {
  it('resolves with the value of a call that answers in time', async () => {
    await expect(withTimeout(Promise.resolve(42), 1_000)).resolves.toBe(42);
  });

  it('takes a thenable that is not a Promise (an RPC answer) and a plain value (a stub answering at once)', async () => {
    const thenable: PromiseLike<string> = { then: (resolve, reject) => Promise.resolve('rpc').then(resolve, reject) };
    await expect(withTimeout(thenable, 1_000)).resolves.toBe('rpc');
    await expect(withTimeout(7, 1_000)).resolves.toBe(7);
  });

  it('passes on the error of a call that fails in time', async () => {
    const error = new Error('object crashed');
    await expect(withTimeout(Promise.reject(error), 1_000)).rejects.toBe(error);
  });

  it('rejects with a TimeoutError naming the budget when the call does not answer', async () => {
    const never = new Promise<number>(() => {});
    const outcome = await withTimeout(never, 20).catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect((outcome as TimeoutError).timeoutMs).toBe(20);
    expect((outcome as TimeoutError).message).toBe('no answer within 20 ms');
  });

  it('an answer after the timeout changes nothing', async () => {
    let answer!: (value: number) => void;
    const late = new Promise<number>((resolve) => (answer = resolve));
    const outcome = withTimeout(late, 10).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 30));
    answer(1);
    expect(await outcome).toBeInstanceOf(TimeoutError);
  });

  it('times the call on the clock it is given, not the system timers', async () => {
    const timers = new Map<number, () => void>();
    let next = 0;
    const clock: Clock = {
      now: () => 0,
      setTimeout: (run) => (timers.set(++next, run), next),
      clearTimeout: (handle) => timers.delete(handle as number),
    };
    const outcome = withTimeout(new Promise<number>(() => {}), 50, clock).catch((error: unknown) => error);
    expect(timers.size).toBe(1);
    for (const run of timers.values()) run();
    expect(await outcome).toBeInstanceOf(TimeoutError);

    // A call that answers clears its timer on that clock: only the fired one is left.
    await expect(withTimeout(Promise.resolve(3), 50, clock)).resolves.toBe(3);
    expect(timers.size).toBe(1);
  });
});
