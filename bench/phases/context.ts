import { StatementMeter } from '../lib/pg-statements';
import { Settings } from '../lib/settings';
import { BenchStack } from '../lib/stack';

/** The run's results, written as JSON to bench/results/ (each phase adds its own key). */
export type Results = Record<string, any>;

/** What every phase is given: the knobs, the running stack, the statement meter and the results so far. */
export interface PhaseContext {
  S: Settings;
  stack: BenchStack;
  statements: StatementMeter;
  results: Results;
}
