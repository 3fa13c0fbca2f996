import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An inbound event as stored by fan-out: the original body bytes, unchanged (text, not jsonb, which reorders keys). */
@Entity({ name: 'events' })
export class EventEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'clinic_id' }) clinicId: string;
  @Column('text', { name: 'event_name' }) eventName: string;
  @Column('text', { name: 'entity_id', nullable: true }) entityId: string | null;
  @Column('text') payload: string;
  @Column('timestamptz', { name: 'received_at' }) receivedAt: Date;
  @Column('text', { name: 'trace_parent', nullable: true }) traceParent: string | null;
  /** The inbound message's JetStream stream sequence: the arrival order every replica agrees on. */
  @Column('bigint', { name: 'stream_seq', nullable: true }) streamSeq: string | null;
}
