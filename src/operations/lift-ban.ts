import type { RateLimiter } from '../durable-object/rate-limiter';
import { listKey } from '../overrides/entries';
import type { CompiledRule } from '../policy/compile';
import { addressOf } from './key-address';

/**
 * Lifts a rule's ban on one key, and, for a ban with `blockAddress`, takes
 * the key's address off the live block list it was put on (and `liveChanged`
 * makes the limiter read the lists again).
 */
export async function liftBan(
  stub: DurableObjectStub<RateLimiter>,
  rule: CompiledRule,
  keyValue: string,
  kv: KVNamespace | undefined,
  liveChanged: () => void,
): Promise<{ lifted: number; unblocked?: string }> {
  const lifted = await stub.liftBan(rule.name);
  const address = rule.rule.ban?.blockAddress ? addressOf(rule, keyValue) : undefined;
  if (address === undefined || !kv) return { lifted };
  const unblocked = listKey({ list: 'block', kind: 'ip', value: address });
  await kv.delete(unblocked);
  liveChanged();
  return { lifted, unblocked };
}
