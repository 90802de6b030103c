/** The part of `node:async_hooks` the soak worker uses (workerd provides it under `nodejs_compat`). */
declare module 'node:async_hooks' {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, fn: () => R): R;
    getStore(): T | undefined;
  }
}
