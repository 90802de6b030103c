import ipaddr from 'ipaddr.js';
import type { z } from 'zod';
import type { Policy, PolicyInput } from './schema';
import { policySchema } from './schema';

/** A policy that failed validation. `issues` holds one line per problem, each naming its field. */
export class PolicyError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid policy ${source}:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'PolicyError';
  }
}

/** Writes an issue's path the way a reader finds the field: `rules[2] "uploads".limits[0].window`. */
function describePath(path: readonly PropertyKey[], input: unknown): string {
  let text = '';
  let node: unknown = input;
  for (const part of path) {
    if (typeof part === 'number') {
      text += `[${part}]`;
      node = Array.isArray(node) ? node[part] : undefined;
      const name = node && typeof node === 'object' && 'name' in node ? (node as { name: unknown }).name : undefined;
      if (typeof name === 'string' && path.length > 1) text += ` "${name}"`;
    } else {
      text += text ? `.${String(part)}` : String(part);
      node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[part] : undefined;
    }
  }
  return text || '(policy)';
}

function formatIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = describePath(issue.path, input);
  if (issue.code === 'unrecognized_keys') return `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${where}: ${issue.message}`;
}

function checkAddresses(policy: Policy): string[] {
  const problems: string[] = [];
  for (const listName of ['allow', 'block'] as const) {
    policy[listName]?.ips.forEach((entry, i) => {
      try {
        if (entry.includes('/')) ipaddr.parseCIDR(entry);
        else ipaddr.parse(entry);
      } catch {
        problems.push(`${listName}.ips[${i}]: "${entry}" is not an IP address or CIDR range`);
      }
    });
  }
  policy.identity?.prefixes.forEach((p, i) => {
    if (p.pattern === undefined) return;
    try {
      new RegExp(p.pattern);
    } catch {
      problems.push(`identity.prefixes[${i}].pattern: "${p.pattern}" is not a valid regular expression`);
    }
  });
  return problems;
}

/**
 * Validates a policy and fills in its defaults. Unknown fields are refused.
 * Throws a {@link PolicyError} whose lines each name the rule and field at fault.
 *
 * @example
 * const policy = parsePolicy(json, 'policies/api.json');
 */
export function parsePolicy(input: unknown, source = 'policy'): Policy {
  const result = policySchema.safeParse(input);
  if (!result.success)
    throw new PolicyError(
      source,
      result.error.issues.map((issue) => formatIssue(issue, input)),
    );
  const problems = checkAddresses(result.data);
  if (problems.length > 0) throw new PolicyError(source, problems);
  return result.data;
}

/**
 * Declares a policy in TypeScript with completion and type checking, and
 * validates it when the module loads, so a bad policy fails the build, the
 * tests and `wrangler dev` with a message naming the field.
 *
 * @example
 * export default definePolicy({
 *   name: 'api',
 *   rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 100, window: '1m' }] }],
 * });
 */
export function definePolicy(input: PolicyInput, source?: string): Policy {
  return parsePolicy(input, source ?? `"${input.name}"`);
}
