import type { BanState } from '../algorithms/decide';
import type { LimitConfig, LimitState } from '../algorithms/types';

/**
 * The rows one key's object keeps, all in its synchronous KV storage:
 * - `limit:<rule>/<limit>` → {@link StoredLimit}, one per limit the key has met;
 * - `ban:<rule>` → {@link BanState}, for rules with bans.
 */
export const LIMIT_PREFIX = 'limit:';
export const BAN_PREFIX = 'ban:';

/** A limit's state with the configuration it was counted under, so expiry and inspection need no policy. */
export interface StoredLimit {
  readonly state: LimitState;
  readonly config: LimitConfig;
}

export const limitRow = (id: string): string => `${LIMIT_PREFIX}${id}`;
export const banRow = (rule: string): string => `${BAN_PREFIX}${rule}`;

export type { BanState };
