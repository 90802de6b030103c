import { listValueError } from '../overrides/entries';
import type { CompiledRule } from '../policy/compile';
import type { Policy } from '../policy/schema';
import { ipKey } from '../request/client-ip';
import { sha256Hex, userKey } from '../request/credentials';
import { InvalidInput } from './invalid-input';

/**
 * The key value of a rule, from what an operator knows: `key` (the value as
 * the limiter derives it, for any key), `ip` (for rules keyed by address;
 * grouped by the policy's prefixes), `credential` (for rules keyed by one
 * credential; hashed here, never stored), or `subject` / `org` (rules keyed
 * by that identity field).
 */
export async function keyValueOf(rule: CompiledRule, policy: Policy, query: Record<string, string | undefined>): Promise<string> {
  const parts = rule.rule.key;
  const single = parts.length === 1 ? parts[0] : undefined;
  if (query.key !== undefined) {
    if (query.key.length === 0 || query.key.length > 1024) throw new InvalidInput(400, 'key', 'key is 1 to 1024 characters');
    return query.key;
  }
  if (query.ip !== undefined) {
    if (single !== 'ip') throw new InvalidInput(400, 'ip', `rule "${rule.name}" is not keyed by ip alone; give key=`);
    const value = ipKey(query.ip, policy.clientIp);
    if (value === undefined) throw new InvalidInput(400, 'ip', `"${query.ip}" is not an IP address`);
    return value;
  }
  if (query.credential !== undefined) {
    const credentialKey =
      single === 'bearer' || single === 'authorization' || single === 'basic-user' || (typeof single === 'object' && 'header' in single);
    if (!credentialKey) throw new InvalidInput(400, 'credential', `rule "${rule.name}" is not keyed by a credential alone; give key=`);
    if (query.credential.length === 0 || query.credential.length > 4096)
      throw new InvalidInput(400, 'credential', 'credential is 1 to 4096 characters');
    return sha256Hex(single === 'basic-user' ? userKey(query.credential) : query.credential);
  }
  for (const field of ['subject', 'org'] as const) {
    const value = query[field];
    if (value === undefined) continue;
    if (!(typeof single === 'object' && 'identity' in single && single.identity === field))
      throw new InvalidInput(400, field, `rule "${rule.name}" is not keyed by ${field} alone; give key=`);
    return value;
  }
  throw new InvalidInput(400, 'key', 'name the key: key=, ip=, credential=, subject= or org=');
}

/** The address part of a rule's key value (the `ip` part of a composite), when the key has one. */
export function addressOf(rule: CompiledRule, keyValue: string): string | undefined {
  const index = rule.rule.key.indexOf('ip');
  if (index < 0) return undefined;
  const parts = keyValue.split('|');
  const address = parts.length === rule.rule.key.length ? parts[index] : undefined;
  return address !== undefined && listValueError('ip', address) === undefined ? address : undefined;
}

/** The name of the Durable Object that holds a rule's key. */
export const objectName = (rule: CompiledRule, keyValue: string): string => `${rule.keySignature}=${keyValue}`;
