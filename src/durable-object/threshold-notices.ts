import type { LimitRequest } from '../algorithms/decide';
import { fixedWindow } from '../algorithms/fixed-window';
import { type NoticeState, thresholdsReached } from '../algorithms/thresholds';
import type { LimitState } from '../algorithms/types';
import { identityOfKey, type ThresholdEvent } from '../notifications/event';
import type { KeyDigester } from '../observability/key-digest';
import { logEvent } from '../observability/log';

/** Storage rows of announced thresholds, one per limit: `notice:<rule>/<limit>`. */
export const NOTICE_PREFIX = 'notice:';

/** Where events go: the `NOTIFICATIONS` queue binding. */
export interface EventQueue {
  send(event: ThresholdEvent): Promise<void>;
}

/**
 * Near-limit notifications of one key's object. The object calls
 * {@link observe} in the same synchronous step that counts a request, so of
 * any number of concurrent requests exactly one reaches a threshold first,
 * and the row saying it was announced is written before any other request
 * is decided.
 */
export class ThresholdNotices {
  private readonly known = new Map<string, NoticeState | undefined>();

  constructor(
    private readonly kv: SyncKvStorage,
    /** The key's name (`ctx.id.name`), when the runtime tells it. */
    private readonly keyName: string | undefined,
    private readonly queue: EventQueue | undefined,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
    /** Names the key in events, as the worker's log lines name it (`KEY_DIGEST_SECRET`). */
    private readonly digester: KeyDigester,
  ) {}

  /** Announces the thresholds of `limit` that its new `state` reaches first in its window. */
  observe(limit: LimitRequest, state: LimitState, now: number): void {
    const thresholds = limit.config.notify;
    if (!thresholds || !this.queue) return;
    const row = `${NOTICE_PREFIX}${limit.id}`;
    if (!this.known.has(row)) this.known.set(row, this.kv.get<NoticeState>(row));
    const { reached, state: next } = thresholdsReached(this.known.get(row), state, limit.config.limit, thresholds);
    if (reached.length === 0) return;
    this.kv.put(row, next!);
    this.known.set(row, next);
    const slash = limit.id.indexOf('/');
    const base = {
      type: 'quota.threshold' as const,
      rule: limit.id.slice(0, slash),
      limit: limit.id.slice(slash + 1),
      quota: limit.config.limit,
      used: state.current,
      periodStart: new Date(state.windowStart).toISOString(),
      periodEnd: new Date(fixedWindow.expiresAt(state, limit.config)).toISOString(),
      occurredAt: new Date(now).toISOString(),
      ...(this.keyName ? identityOfKey(this.keyName) : {}),
    };
    const queue = this.queue;
    this.waitUntil(
      Promise.resolve(this.digester.digest(this.keyName ?? '')).then((key) =>
        Promise.all(
          reached.map((threshold) =>
            queue
              .send({ ...base, threshold, key, id: `${key}:${limit.id}:${state.windowStart}:${threshold}` })
              .catch((error: unknown) =>
                logEvent('notify_enqueue_failed', { rule: base.rule, limit: base.limit, threshold, error: String(error) }),
              ),
          ),
        ),
      ),
    );
  }
}
