/**
 * The time and timers the request path reads besides the `now` it is given:
 * how long a call to a key's object may take, how long a request waits for
 * another's call. The system clock in a worker; a simulated one where the
 * engine runs against a model of the network (`npm run simulate`).
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `run` once, `ms` from now; the handle is for {@link Clock.clearTimeout}. */
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `Date.now` and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
