export * from './data-source';
export * from './raw-query';
export * from './entities';
export * from './migrations';
export * from './repositories';
export * from './persistence.module';
export * from './reencrypt-secrets';
