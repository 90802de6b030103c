import { concurrency } from './concurrency';
import { fixedWindow } from './fixed-window';
import { gcra } from './gcra';
import { slidingWindow } from './sliding-window';
import type { Algorithm, AlgorithmName } from './types';

/** Every algorithm by the name a policy uses for it. */
export const ALGORITHMS: Readonly<Record<AlgorithmName, Algorithm>> = Object.freeze({
  'fixed-window': fixedWindow,
  'sliding-window': slidingWindow,
  gcra,
  concurrency,
});

export function algorithmFor(name: AlgorithmName): Algorithm {
  return ALGORITHMS[name];
}
