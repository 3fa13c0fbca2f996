export * from './delivery-dispatcher';
export * from './retry-policy';
export * from './signature';
export * from './webhook-sender';
export * from './rate-limiter';
