export * from './backoff';
export * from './nats-connection';
export * from './nats-link';
export * from './jetstream-errors';
export * from './streams';
export * from './durable-consumer';
export * from './inbound-publisher';
export * from './nats.provider';
