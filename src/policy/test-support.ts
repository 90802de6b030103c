import { PolicyError, parsePolicy } from './parse';

/**
 * The {@link PolicyError} that parsing `input` as the policy `source` throws;
 * undefined when it parses. Anything else it throws is thrown on.
 */
export function policyErrorOf(input: unknown, source?: string): PolicyError | undefined {
  try {
    parsePolicy(input, source);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  return undefined;
}
