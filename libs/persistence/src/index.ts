export * from './data-source';
export * from './entities';
export * from './micro-batcher';
export * from './migrations';
export * from './repositories';
export * from './persistence.module';
