import type { Hono } from 'hono';
import type { Policy } from '../../../src/policy/schema';
import { limitedApp, manualClock } from '../../support/app';

/** A minute boundary (and a five-minute and an hour boundary) two days ahead of the real clock. */
export const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 86_400_000 + 12 * 3_600_000;

/**
 * A preset in front of the test origin with a clock the test moves. The key
 * objects get a generous timeout, so a busy test machine (a cold object's
 * first call) cannot turn a decision into a fail-open.
 */
export function presetApp(policy: Policy) {
  const clock = manualClock(T0);
  const { app } = limitedApp({ policy: { ...policy, onError: { mode: 'open', timeoutMs: 10_000 } }, now: clock.now });
  return { app, clock };
}

export interface Call {
  readonly ip: string;
  readonly method?: string;
  readonly host?: string;
  readonly headers?: Record<string, string>;
  /** What Cloudflare would put in `request.cf`. */
  readonly cf?: Record<string, unknown>;
}

/** One request through the app; the body is read so the origin connection is released. */
export async function call(
  app: Hono,
  path: string,
  { ip, method = 'GET', host = 'api.example.test', headers = {}, cf }: Call,
  bindings: object,
): Promise<Response & { text_: string }> {
  const init = { method, headers: { 'CF-Connecting-IP': ip, ...headers }, ...(cf ? { cf } : {}) };
  const response = await app.request(`http://${host}${path}`, init as RequestInit, bindings);
  const text_ = await response.text();
  return Object.assign(response, { text_ });
}

/** Statuses of `n` identical requests, in order. */
export async function statuses(app: Hono, n: number, path: string, who: Call, bindings: object): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call(app, path, who, bindings)).status);
  return out;
}

/** `[status, count]` runs: `[[200, 60], [429, 1]]`. */
export function runs(list: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of list) {
    const last = out[out.length - 1];
    if (last && last[0] === s) last[1]++;
    else out.push([s, 1]);
  }
  return out;
}
