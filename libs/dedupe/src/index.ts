export * from './claim-store';
export * from './dedupe-client';
/** Moved to persistence (fan-out batches attempt records with it too); re-exported for existing imports. */
export { MicroBatcher } from '@switchyard/persistence';
