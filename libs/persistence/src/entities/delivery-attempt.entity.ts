import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * `unrenderable`: the stored payload cannot be put in the subscriber's format (a CloudEvent needs JSON); no
 * request is sent and, since no retry can change that, the delivery is dead-lettered at once.
 */
export type AttemptOutcome = 'success' | 'http_error' | 'timeout' | 'network_error' | 'blocked' | 'redirect' | 'unrenderable';

/** One HTTP attempt of a delivery: what was answered, how long it took, what went wrong. */
@Entity({ name: 'delivery_attempts' })
export class DeliveryAttemptEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id: string;
  @Column('uuid', { name: 'delivery_id' }) deliveryId: string;
  @Column('integer') attempt: number;
  @Column('text') outcome: AttemptOutcome;
  @Column('integer', { name: 'status_code', nullable: true }) statusCode: number | null;
  @Column('integer', { name: 'duration_ms' }) durationMs: number;
  @Column('text', { nullable: true }) error: string | null;
  @Column('text', { name: 'response_excerpt', nullable: true }) responseExcerpt: string | null;
  @Column('timestamptz', { name: 'started_at' }) startedAt: Date;
}
