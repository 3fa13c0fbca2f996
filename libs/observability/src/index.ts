export * from './tracing';
export * from './batch-tracing';
export * from './logger';
export * from './nest-logger';
export * from './metrics';
export * from './ops-routes';
export * from './observability.module';
