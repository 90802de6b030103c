import { logEvent } from '../observability/log';
import type { ThresholdEvent } from './event';
import { SIGNATURE_HEADER, signBody } from './signature';

/** The KV row (in `RATE_LIMIT_CONFIG`) holding the last failed delivery, shown on the dashboard. */
export const LAST_FAILURE_ROW = 'notify:last-failure';

/** A failed delivery as the dashboard shows it. */
export interface DeliveryFailure {
  readonly at: string;
  /** The event's id. */
  readonly eventId: string;
  readonly attempt: number;
  /** The webhook's status, or the error when it could not be reached. */
  readonly error: string;
  /** Whether the queue retries it (false: it was the last attempt). */
  readonly retrying: boolean;
}

/** A stored failure, or `undefined` when the row is missing or not one (a malformed row is ignored). */
export function parseDeliveryFailure(text: string | null): DeliveryFailure | undefined {
  if (text === null) return undefined;
  try {
    const f = JSON.parse(text) as Record<string, unknown>;
    if (
      typeof f.at === 'string' &&
      typeof f.eventId === 'string' &&
      typeof f.attempt === 'number' &&
      typeof f.error === 'string' &&
      typeof f.retrying === 'boolean'
    ) {
      return { at: f.at, eventId: f.eventId, attempt: f.attempt, error: f.error, retrying: f.retrying };
    }
  } catch {
    // not JSON: ignored below
  }
  logEvent('kv_invalid', { key: LAST_FAILURE_ROW });
  return undefined;
}

/** How long to wait before the `attempt`-th retry (1 for the first): 10 s, doubling, at most 10 minutes. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempt - 1));
}

/** What the consumer needs from the worker's environment. */
export interface DeliveryEnv {
  /** Where events are POSTed. */
  readonly NOTIFY_WEBHOOK_URL?: string | undefined;
  /** The HMAC-SHA256 secret bodies are signed with (`wrangler secret put NOTIFY_WEBHOOK_SECRET`). */
  readonly NOTIFY_WEBHOOK_SECRET?: string | undefined;
  readonly RATE_LIMIT_CONFIG?: KVNamespace | undefined;
}

export interface DeliveryOptions {
  /** Attempts the queue makes in all (its `max_retries` + 1): the last failure is not retried. */
  readonly maxAttempts?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
}

/**
 * The queue consumer: POSTs each event to the webhook, signed (see
 * `./signature`), and acknowledges it on a 2xx answer. A failure is retried
 * with backoff ({@link retryDelaySeconds}) and recorded as the last failure
 * for the dashboard. Without a URL or secret, events are dropped and logged:
 * unsigned events are never sent.
 *
 * @example
 * export default { fetch: app.fetch, queue: (batch, env) => deliverNotifications(batch, env) };
 */
export async function deliverNotifications(
  batch: MessageBatch<ThresholdEvent>,
  env: DeliveryEnv,
  options: DeliveryOptions = {},
): Promise<void> {
  const { maxAttempts = 9, timeoutMs = 10_000, now = Date.now } = options;
  const send = options.fetch ?? fetch;
  const url = env.NOTIFY_WEBHOOK_URL;
  const secret = env.NOTIFY_WEBHOOK_SECRET;
  if (!url || !secret) {
    logEvent('notify_unconfigured', { dropped: batch.messages.length, missing: !url ? 'NOTIFY_WEBHOOK_URL' : 'NOTIFY_WEBHOOK_SECRET' });
    batch.ackAll();
    return;
  }
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = JSON.stringify(message.body);
      let error: string;
      try {
        const response = await send(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            [SIGNATURE_HEADER]: await signBody(secret, body, now()),
            'User-Agent': 'edge-ratelimit-webhook',
          },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        if (response.ok) {
          message.ack();
          return;
        }
        error = `HTTP ${response.status}`;
      } catch (e) {
        error = String(e);
      }
      const retrying = message.attempts < maxAttempts;
      const failure: DeliveryFailure = {
        at: new Date(now()).toISOString(),
        eventId: message.body.id,
        attempt: message.attempts,
        error,
        retrying,
      };
      logEvent('notify_failed', { ...failure });
      await env.RATE_LIMIT_CONFIG?.put(LAST_FAILURE_ROW, JSON.stringify(failure)).catch(() => undefined);
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }),
  );
}
