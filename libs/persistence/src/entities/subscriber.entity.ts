import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A downstream webhook endpoint registered by a clinic ("webhook" in the Nimbus-compatible API). */
@Entity({ name: 'subscribers' })
export class SubscriberEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'clinic_id' }) clinicId: string;
  @Column('text') url: string;
  @Column('text', { name: 'event_types', array: true }) eventTypes: string[];
  @Column('text') format: 'cloudevents' | 'nimbus';
  @Column('boolean') enabled: boolean;
  @Column('text', { name: 'disabled_reason', nullable: true }) disabledReason: string | null;
  /**
   * The current signing secret (`whsec_…`) as stored: encrypted (`enc:v1:<key id>:…`, SubscriberRepository
   * writes it, toTarget reads it); the previous one keeps signing until `previousSecretExpiresAt`.
   */
  @Column('text') secret: string;
  @Column('text', { name: 'previous_secret', nullable: true }) previousSecret: string | null;
  @Column('timestamptz', { name: 'previous_secret_expires_at', nullable: true }) previousSecretExpiresAt: Date | null;
  /** Sent as `X-API-Key` on each delivery, for handlers written from the Nimbus guide; stored encrypted like the secret. */
  @Column('text', { name: 'api_key', nullable: true }) apiKey: string | null;
  @Column('integer', { name: 'timeout_ms', nullable: true }) timeoutMs: number | null;
  @Column('boolean', { default: false }) ordered: boolean;
  @Column('integer', { name: 'max_in_flight', nullable: true }) maxInFlight: number | null;
  @Column('double precision', { name: 'rate_limit_per_second', nullable: true }) rateLimitPerSecond: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @Column('timestamptz', { name: 'deleted_at', nullable: true }) deletedAt: Date | null;
}
