import { InvalidInput } from './invalid-input';

/** The Analytics Engine settings of a deployment whose SQL API is configured, as the tests of its readers use them. */
export const CONFIGURED_ANALYTICS = {
  ANALYTICS_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
  ANALYTICS_API_TOKEN: 'token-for-tests',
  ANALYTICS_DATASET: 'edge_ratelimit',
};

/** `field: message` of the {@link InvalidInput} that `run` throws; undefined when it throws nothing. Anything else it throws is thrown on. */
export function invalidFieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidInput) return `${error.field}: ${error.message}`;
    throw error;
  }
  return undefined;
}
