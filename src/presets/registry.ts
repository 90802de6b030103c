import type { Policy } from '../policy/schema';
import cloudsmith from './cloudsmith';
import defaultPolicy from './default';
import fluidcloud from './fluidcloud';
import keygen from './keygen';
import originHealth from './origin-health';
import quotas from './quotas';
import rubygems from './rubygems';

/** The policies a deployment can select with the `POLICY` variable. */
export const POLICIES: Readonly<Record<string, Policy>> = Object.freeze({
  default: defaultPolicy,
  cloudsmith,
  rubygems,
  fluidcloud,
  keygen,
  quotas,
  'origin-health': originHealth,
});
