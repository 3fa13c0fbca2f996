export * from './claim-store';
export * from './dedupe-client';
