export * from './nats-connection';
export * from './streams';
export * from './inbound-publisher';
export * from './nats.provider';
