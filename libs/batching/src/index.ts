export * from './micro-batcher';
export * from './lookup-cache';
export * from './with-timeout';
export * from './pending-work';
