export * from './config';
export * from './duration';
export * from './config.module';
