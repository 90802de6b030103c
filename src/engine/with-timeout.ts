import { type Clock, systemClock } from './clock';
import { isPending } from './maybe';

/** Raised when a call outlives its time budget. */
export class TimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Resolves as `promise` does, or rejects with a {@link TimeoutError} after
 * `timeoutMs`. The timer is cleared as soon as `promise` settles; it is on
 * every object call's path, so it makes one promise and one timer, nothing more.
 * `promise` may be any thenable (an RPC call's answer) or a plain value.
 * The timer runs on `clock`: the system clock unless a simulation gives its own.
 */
export function withTimeout<T>(promise: T | PromiseLike<T>, timeoutMs: number, clock: Clock = systemClock): Promise<T> {
  if (!isPending(promise)) return Promise.resolve(promise);
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new TimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
