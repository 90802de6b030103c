import type { Policy } from '../policy/schema';
import defaultPolicy from './default';

/** The policies a deployment can select with the `POLICY` variable. */
export const POLICIES: Readonly<Record<string, Policy>> = Object.freeze({
  default: defaultPolicy,
});
