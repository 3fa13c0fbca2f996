import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tables of the data lifecycle (docs/OPERATIONS.md): per-clinic ceilings set by an operator, the audit
 * trail of every admin and clinic write, and the remembered answers of `Idempotency-Key` requests.
 */
export class LifecycleTables1764412000000 implements MigrationInterface {
  name = 'LifecycleTables1764412000000';

  async up(q: QueryRunner): Promise<void> {
    // A column left NULL means "the configured default" (CLINIC_MAX_*, INGRESS_RATE_*).
    await q.query(`
      CREATE TABLE clinic_limits (
        clinic_id uuid PRIMARY KEY REFERENCES clinics(id) ON DELETE CASCADE,
        max_subscribers integer CHECK (max_subscribers >= 0),
        max_in_flight integer CHECK (max_in_flight >= 1),
        max_timeout_ms integer CHECK (max_timeout_ms >= 100),
        ingress_rate_per_second double precision CHECK (ingress_rate_per_second >= 0),
        ingress_burst integer CHECK (ingress_burst >= 1),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor_kind text NOT NULL CHECK (actor_kind IN ('operator', 'clinic_key', 'portal_session')),
        actor_id text,
        clinic_id uuid,
        method text NOT NULL,
        route text NOT NULL,
        target_id text,
        fields text[] NOT NULL DEFAULT '{}',
        request_id text NOT NULL,
        status integer NOT NULL,
        error_code text
      )`);
    await q.query(`CREATE INDEX audit_log_clinic_idx ON audit_log (clinic_id, id DESC)`);
    await q.query(`CREATE INDEX audit_log_at_idx ON audit_log (at)`);
    await q.query(`
      CREATE TABLE request_idempotency (
        scope text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        state text NOT NULL CHECK (state IN ('running', 'done')),
        locked_until timestamptz NOT NULL,
        response_status integer,
        response_body text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (scope, key)
      )`);
    await q.query(`CREATE INDEX request_idempotency_expires_idx ON request_idempotency (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['request_idempotency', 'audit_log', 'clinic_limits']) await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
