import { logEvent } from '../observability/log';

interface Entry<T> {
  readonly value: T | undefined;
  readonly expiresAt: number;
}

export interface CachedReaderOptions<T> {
  /** How long a read (hit or miss) is kept in the isolate. */
  readonly ttlMs: number;
  /** The longest the request path waits on KV; past it the default applies. */
  readonly timeoutMs: number;
  /** Validates a stored value; returns the value or a reason it is refused. */
  readonly validate: (raw: unknown) => { ok: true; value: T } | { ok: false; error: string };
  /** At most this many keys are cached; the oldest go first. */
  readonly maxEntries?: number;
}

/**
 * Reads JSON values from Workers KV for the request path: cached in the
 * isolate for `ttlMs`, never waited on past `timeoutMs`, and validated, so a
 * malformed value is logged and ignored instead of failing a request.
 */
export class CachedKvReader<T> {
  private readonly cache = new Map<string, Entry<T>>();

  constructor(private readonly options: CachedReaderOptions<T>) {}

  async get(kv: KVNamespace | undefined, key: string, now: number): Promise<T | undefined> {
    if (!kv) return undefined;
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > now) return hit.value;
    const value = await this.read(kv, key);
    this.remember(key, value, now);
    return value;
  }

  /** Drops a cached key, so the next read goes to KV (used after writes through the admin API). */
  forget(key: string): void {
    this.cache.delete(key);
  }

  private async read(kv: KVNamespace, key: string): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.timeoutMs);
    });
    try {
      const raw = await Promise.race([kv.get(key, 'text'), timeout]);
      if (raw === 'timeout') {
        logEvent('kv_timeout', { key, timeoutMs: this.options.timeoutMs });
        return undefined;
      }
      if (raw === null) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        logEvent('kv_invalid', { key, error: 'not JSON' });
        return undefined;
      }
      const checked = this.options.validate(parsed);
      if (!checked.ok) {
        logEvent('kv_invalid', { key, error: checked.error });
        return undefined;
      }
      return checked.value;
    } catch (error) {
      logEvent('kv_error', { key, error: String(error) });
      return undefined;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private remember(key: string, value: T | undefined, now: number): void {
    const max = this.options.maxEntries ?? 10_000;
    if (this.cache.size >= max) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { value, expiresAt: now + this.options.ttlMs });
  }
}
