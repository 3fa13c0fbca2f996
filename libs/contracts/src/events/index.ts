export * from './nimbus-event.schema';
export * from './nimbus-event';
export * from './idempotency-key';
export * from './examples';
export * from './test-event';
