import { ApiKeyEntity } from './api-key.entity';
import { ClinicEntity } from './clinic.entity';
import { DeliveryAttemptEntity } from './delivery-attempt.entity';
import { DeliveryEntity } from './delivery.entity';
import { EventEntity } from './event.entity';
import { IdempotencyClaimEntity } from './idempotency-claim.entity';
import { SubscriberEntity } from './subscriber.entity';

export * from './api-key.entity';
export * from './clinic.entity';
export * from './delivery-attempt.entity';
export * from './delivery.entity';
export * from './event.entity';
export * from './idempotency-claim.entity';
export * from './subscriber.entity';

export const ENTITIES = [
  ClinicEntity,
  ApiKeyEntity,
  SubscriberEntity,
  EventEntity,
  DeliveryEntity,
  DeliveryAttemptEntity,
  IdempotencyClaimEntity,
];
