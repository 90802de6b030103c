/**
 * A near-limit notification, as the key's object puts it on the queue and
 * the webhook receives it. It names the key by a digest and, where the
 * rule's key holds them, the subject and organisation; never a credential.
 */
export interface ThresholdEvent {
  readonly type: 'quota.threshold';
  /** Unique per key, limit, window and threshold: receivers can drop a redelivery by it. */
  readonly id: string;
  readonly rule: string;
  /** The limit's name (`month`, `1h`). */
  readonly limit: string;
  /** The limit in force when the threshold was reached. */
  readonly quota: number;
  /** The percentage reached. */
  readonly threshold: number;
  /** Units used in the window when it was reached. */
  readonly used: number;
  /** The window or calendar period (ISO 8601). */
  readonly periodStart: string;
  readonly periodEnd: string;
  /** The key's digest, as log lines name it (`KEY_DIGEST_SECRET`; keys may hold client addresses). */
  readonly key: string;
  readonly subject?: string;
  readonly org?: string;
  /** When the request that reached it was decided (ISO 8601). */
  readonly occurredAt: string;
}

/**
 * The subject and organisation a key's name holds, for rules keyed on
 * `{ identity: 'subject' }` or `{ identity: 'org' }` (alone or with other
 * parts). A name is `<key parts joined by +>=<values joined by |>`.
 *
 * @example
 * identityOfKey('{"identity":"subject"}=cust-42'); // { subject: 'cust-42' }
 */
export function identityOfKey(name: string): { subject?: string; org?: string } {
  const split = name.indexOf('=');
  if (split < 0) return {};
  const parts = name.slice(0, split).split('+');
  const values = name.slice(split + 1).split('|');
  if (parts.length !== values.length) return {};
  const out: { subject?: string; org?: string } = {};
  parts.forEach((part, i) => {
    if (part.startsWith('{"identity":"subject"')) out.subject = values[i]!;
    if (part.startsWith('{"identity":"org"')) out.org = values[i]!;
  });
  return out;
}
