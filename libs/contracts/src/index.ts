export * from './events';
export * from './subjects';
export * from './normalized';
export * as dedupeV1 from './generated/dedupe/v1/dedupe';
export * as healthV1 from './generated/grpc/health/v1/health';
export { PROTO_ROOT, DEDUPE_PROTO_PATH, HEALTH_PROTO_PATH } from './proto-paths';
