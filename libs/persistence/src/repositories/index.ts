export * from './api-key.repository';
export * from './clinic.repository';
export * from './delivery.repository';
export * from './subscriber.repository';
export * from './delivery-query.repository';
export * from './delivery-flow.repository';
export * from './subscriber-cache';
export * from './portal-session.repository';
