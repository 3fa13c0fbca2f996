import { MigrationInterface, QueryRunner } from 'typeorm';

/** The channel on which new due work is announced to every fan-out replica (payload: `<schema>:<holder>`). */
export const DELIVERIES_DUE_CHANNEL = 'switchyard_deliveries_due';

/**
 * What lets any number of fan-out replicas keep the promises one process kept in memory:
 *
 * - `stream_seq` on events and deliveries: the JetStream stream sequence of the inbound message, the order
 *   every replica agrees on. Per-entity order, re-enable and replay follow it (never the time a fan-out
 *   statement happened to start). Rows stored before this migration have none and sort first.
 * - `delivery_slots`: one row per request a subscriber may have open (`slot` < its `max_in_flight`), held by
 *   one fan-out process under a lease. The primary key is the whole proof that no more than `max_in_flight`
 *   requests are open across replicas; a crashed holder's slots come free when their lease runs out.
 * - `subscriber_rate_buckets`: the GCRA state of a subscriber's `rate_limit_per_second`, shared by every
 *   replica (each takes its tokens with one atomic upsert).
 * - status `cancelled`: the waiting deliveries of a deleted subscriber, which no longer count as due.
 */
export class ClusterWideDelivery1764400000000 implements MigrationInterface {
  name = 'ClusterWideDelivery1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN stream_seq bigint`);
    await q.query(`ALTER TABLE deliveries ADD COLUMN stream_seq bigint`);
    await q.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check`);
    await q.query(`
      ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
        CHECK (status IN ('pending', 'delivering', 'succeeded', 'dead', 'parked', 'cancelled'))`);
    // Waiting deliveries of subscribers deleted before this migration stop counting as due.
    await q.query(`
      UPDATE deliveries d SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = now()
        FROM subscribers s
       WHERE s.id = d.subscriber_id AND s.deleted_at IS NOT NULL AND d.status IN ('pending', 'parked')`);
    await q.query(`DROP INDEX IF EXISTS deliveries_unfinished_entity_idx`);
    await q.query(`
      CREATE INDEX deliveries_unfinished_entity_idx ON deliveries (subscriber_id, entity_id, stream_seq)
       WHERE status IN ('pending', 'delivering') AND entity_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE delivery_slots (
        subscriber_id uuid NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        slot integer NOT NULL CHECK (slot >= 0),
        holder text NOT NULL,
        lease_until timestamptz NOT NULL,
        PRIMARY KEY (subscriber_id, slot)
      )`);
    await q.query(`CREATE INDEX delivery_slots_holder_idx ON delivery_slots (holder)`);
    await q.query(`
      CREATE TABLE subscriber_rate_buckets (
        subscriber_id uuid PRIMARY KEY REFERENCES subscribers(id) ON DELETE CASCADE,
        tat timestamptz NOT NULL,
        -- The last request, carried in the row so one upsert can compute its own answer.
        requested integer NOT NULL,
        rate double precision NOT NULL,
        granted integer NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS subscriber_rate_buckets`);
    await q.query(`DROP TABLE IF EXISTS delivery_slots`);
    await q.query(`DROP INDEX IF EXISTS deliveries_unfinished_entity_idx`);
    await q.query(`
      CREATE INDEX deliveries_unfinished_entity_idx ON deliveries (subscriber_id, entity_id, event_received_at)
       WHERE status IN ('pending', 'delivering') AND entity_id IS NOT NULL`);
    await q.query(`UPDATE deliveries SET status = 'dead', dead_at = now() WHERE status = 'cancelled'`);
    await q.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check`);
    await q.query(`
      ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
        CHECK (status IN ('pending', 'delivering', 'succeeded', 'dead', 'parked'))`);
    await q.query(`ALTER TABLE deliveries DROP COLUMN stream_seq`);
    await q.query(`ALTER TABLE events DROP COLUMN stream_seq`);
  }
}
