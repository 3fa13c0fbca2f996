import { InitialSchema1732800000000 } from './1732800000000-initial-schema';

export const MIGRATIONS = [InitialSchema1732800000000];
