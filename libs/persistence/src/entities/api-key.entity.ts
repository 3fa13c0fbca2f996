import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A clinic's API key, stored only as a peppered SHA-256 hash; `hint` is its last characters, for display. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'clinic_id' }) clinicId: string;
  @Column('text', { name: 'key_hash' }) keyHash: string;
  @Column('text') hint: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt: Date | null;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}
