import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Portal sessions: an operator's short-lived link that opens the console as one clinic. Only HMACs of the
 * link token and of the session token (the cookie it is swapped for) are stored. The link works once
 * (`exchanged_at`), the session until `expires_at` or `revoked_at`.
 */
export class PortalSessions1764420000000 implements MigrationInterface {
  name = 'PortalSessions1764420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE portal_sessions (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        link_hash text NOT NULL UNIQUE,
        session_hash text UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        exchanged_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX portal_sessions_clinic_idx ON portal_sessions (clinic_id, created_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS portal_sessions`);
  }
}
