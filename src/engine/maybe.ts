/**
 * A value, or a promise of it. The layers under the request path hand
 * values on at once where nothing needs waiting for (a lease spent, a
 * refusal the isolate knows, configuration already cached): `decideGroups`,
 * `spendLease`, `listedAs`, override lookups and `LiveConfig.current`.
 * Measured with `npm run bench:decide`, promises there instead made a
 * decision 1.3–1.6× as costly in CPU (2–4 µs); `evaluate` itself is `async`,
 * which costs 1.02–1.13× (docs/architecture.md has the figures).
 */
export type MaybePromise<T> = T | Promise<T>;

/** Whether `value` is a promise (or another thenable) to wait for. */
export function isPending<T>(value: MaybePromise<T> | PromiseLike<T>): value is Promise<T> {
  return (
    value instanceof Promise || (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function')
  );
}

/** `next(value)`: at once when `value` is a plain value, once it resolves otherwise. */
export function after<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isPending(value) ? Promise.resolve(value).then(next) : next(value);
}

/** The values, or a promise of them all when any is still pending. */
export function allOf<T>(values: ReadonlyArray<MaybePromise<T>>): MaybePromise<T[]> {
  // Most requests meet one key: its answer is wrapped without Promise.all's bookkeeping.
  if (values.length === 1) {
    const only = values[0]!;
    return isPending(only) ? only.then((value) => [value]) : (values as T[]);
  }
  return values.some(isPending) ? Promise.all(values) : (values as T[]);
}
