import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const DELIVERY_STATUSES = ['pending', 'delivering', 'succeeded', 'dead', 'parked', 'cancelled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One event for one subscriber. `next_attempt_at` is the due time of the next attempt: the retry schedule
 * lives here, in Postgres, not in JetStream, so that thousands of deliveries waiting in backoff hold up
 * nothing. `lease_until` marks a delivery taken by a worker; a crash lets the lease run out and another
 * worker takes it again (at least once, same id, so the same `webhook-id`).
 */
@Entity({ name: 'deliveries' })
export class DeliveryEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'event_id' }) eventId: string;
  @Column('uuid', { name: 'clinic_id' }) clinicId: string;
  @Column('uuid', { name: 'subscriber_id' }) subscriberId: string;
  @Column('text', { name: 'event_name' }) eventName: string;
  @Column('text') status: DeliveryStatus;
  /** The event's stream sequence (copied): per-entity order, re-enable and replay follow it. */
  @Column('bigint', { name: 'stream_seq', nullable: true }) streamSeq: string | null;
  @Column('integer', { name: 'attempt_count' }) attemptCount: number;
  @Column('timestamptz', { name: 'next_attempt_at', nullable: true }) nextAttemptAt: Date | null;
  @Column('timestamptz', { name: 'lease_until', nullable: true }) leaseUntil: Date | null;
  @Column('integer', { name: 'last_status_code', nullable: true }) lastStatusCode: number | null;
  @Column('text', { name: 'last_error', nullable: true }) lastError: string | null;
  @Column('timestamptz', { name: 'delivered_at', nullable: true }) deliveredAt: Date | null;
  @Column('timestamptz', { name: 'dead_at', nullable: true }) deadAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
