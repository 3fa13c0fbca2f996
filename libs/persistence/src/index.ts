export * from './data-source';
export * from './raw-query';
export * from './pg-listener';
export * from './entities';
export * from './migrations';
export * from './repositories';
export * from './persistence.module';
