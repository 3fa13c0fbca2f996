import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1732800000000 implements MigrationInterface {
  name = 'InitialSchema1732800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE clinics (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        key_hash text NOT NULL UNIQUE,
        hint text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_clinic_idx ON api_keys (clinic_id)`);
    await q.query(`
      CREATE TABLE subscribers (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        url text NOT NULL,
        event_types text[] NOT NULL DEFAULT '{*}',
        format text NOT NULL DEFAULT 'cloudevents' CHECK (format IN ('cloudevents', 'nimbus')),
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason text,
        secret text NOT NULL,
        previous_secret text,
        previous_secret_expires_at timestamptz,
        api_key text,
        timeout_ms integer,
        ordered boolean NOT NULL DEFAULT false,
        max_in_flight integer,
        rate_limit_per_second double precision,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX subscribers_clinic_idx ON subscribers (clinic_id) WHERE deleted_at IS NULL`);
    await q.query(`
      CREATE TABLE events (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL,
        event_name text NOT NULL,
        entity_id text,
        payload text NOT NULL,
        received_at timestamptz NOT NULL,
        trace_parent text,
        stored_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX events_clinic_received_idx ON events (clinic_id, received_at)`);
    await q.query(`
      CREATE TABLE deliveries (
        id uuid PRIMARY KEY,
        event_id uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        clinic_id uuid NOT NULL,
        subscriber_id uuid NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        event_name text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'delivering', 'succeeded', 'dead', 'parked')),
        attempt_count integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        lease_until timestamptz,
        last_status_code integer,
        last_error text,
        delivered_at timestamptz,
        dead_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (event_id, subscriber_id)
      )`);
    // The scheduler's two questions: which pending deliveries are due, and which leases ran out.
    await q.query(`CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX deliveries_leased_idx ON deliveries (lease_until) WHERE status = 'delivering'`);
    await q.query(`CREATE INDEX deliveries_clinic_idx ON deliveries (clinic_id, created_at DESC, id)`);
    await q.query(`CREATE INDEX deliveries_subscriber_idx ON deliveries (subscriber_id, status)`);
    await q.query(`
      CREATE TABLE delivery_attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        outcome text NOT NULL,
        status_code integer,
        duration_ms integer NOT NULL,
        error text,
        response_excerpt text,
        started_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, attempt)`);
    await q.query(`
      CREATE TABLE idempotency_claims (
        key text PRIMARY KEY,
        clinic_id text NOT NULL,
        event_id uuid NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'done')),
        token text NOT NULL,
        lease_until timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idempotency_claims_expires_idx ON idempotency_claims (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['idempotency_claims', 'delivery_attempts', 'deliveries', 'events', 'subscribers', 'api_keys', 'clinics']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
