export * from './subjects';
export * from './inbound-message';
