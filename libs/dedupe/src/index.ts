export * from './claim-store';
export * from './dedupe-client';
export * from './claim-channel';
export * from './claim-tracing';
