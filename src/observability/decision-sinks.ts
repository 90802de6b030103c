import type { KeyDigester } from './key-digest';
import type { AnalyticsSink, Metrics } from './metrics';
import type { RepeatFolder } from './repeat-folder';

/** Where a limiter's decisions are counted and logged. */
export interface DecisionSinks {
  readonly metrics: Metrics;
  readonly analytics?: AnalyticsSink | undefined;
  /** Folds log lines of refusals answered in the isolate; without it each writes its own line. */
  readonly repeats?: RepeatFolder | undefined;
  /** Names keys in log lines and points: keyed by the bindings' `KEY_DIGEST_SECRET`. */
  readonly digester: KeyDigester;
}
