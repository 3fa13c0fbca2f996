export * from './attempt-runner';
export * from './cancellation';
export * from './delivery-dispatcher';
export * from './delivery-scheduler';
export * from './flow-control';
export * from './retry-policy';
export * from './signature';
export * from './webhook-sender';
