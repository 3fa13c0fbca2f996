export * from './micro-batcher';
export * from './lookup-cache';
