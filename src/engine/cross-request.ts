/**
 * Whether a request may wait for a promise another request settles. Workers
 * runs the waiting request's continuation in its own context only with the
 * `handle_cross_request_promise_resolution` compatibility flag (on by
 * default for current compatibility dates); without it the continuation runs
 * in the other request's context, where the waiter's I/O fails. Coalescing
 * calls to a key's object relies on such waits, so it is used only when the
 * runtime says they work.
 */
export function crossRequestWaitsWork(): boolean {
  const flags = (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } }).Cloudflare?.compatibilityFlags;
  return flags?.handle_cross_request_promise_resolution === true;
}
