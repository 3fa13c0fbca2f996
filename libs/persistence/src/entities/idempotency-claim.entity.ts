import { Column, Entity, PrimaryColumn } from 'typeorm';

export type ClaimState = 'pending' | 'done';

/** An idempotency key claimed by ingress: `pending` under a lease until the event is stored, then `done`. */
@Entity({ name: 'idempotency_claims' })
export class IdempotencyClaimEntity {
  @PrimaryColumn('text') key: string;
  @Column('text', { name: 'clinic_id' }) clinicId: string;
  @Column('uuid', { name: 'event_id' }) eventId: string;
  @Column('text') state: ClaimState;
  @Column('text') token: string;
  @Column('timestamptz', { name: 'lease_until' }) leaseUntil: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt: Date;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
}
