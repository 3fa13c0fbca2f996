import { InitialSchema1732800000000 } from './1732800000000-initial-schema';
import { SchedulerIndexes1764360000000 } from './1764360000000-scheduler-indexes';

export const MIGRATIONS = [InitialSchema1732800000000, SchedulerIndexes1764360000000];
