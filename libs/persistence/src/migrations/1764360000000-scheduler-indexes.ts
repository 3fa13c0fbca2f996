import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The scheduler asks, per subscriber, "what is due first?": one index answers it without sorting a
 * backlog of thousands on every poll. Ordered subscribers: a delivery carries its event's entity id and receive time, so the scheduler can
 * hold a delivery back while an earlier one about the same entity is still unfinished, with one index
 * probe instead of a join with events.
 */
export class SchedulerIndexes1764360000000 implements MigrationInterface {
  name = 'SchedulerIndexes1764360000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX deliveries_subscriber_due_idx ON deliveries (subscriber_id, next_attempt_at) WHERE status = 'pending'`);
    await q.query(`ALTER TABLE deliveries ADD COLUMN entity_id text, ADD COLUMN event_received_at timestamptz`);
    await q.query(`
      UPDATE deliveries d SET entity_id = e.entity_id, event_received_at = e.received_at
        FROM events e WHERE e.id = d.event_id AND d.status IN ('pending', 'delivering', 'parked')`);
    await q.query(`
      CREATE INDEX deliveries_unfinished_entity_idx ON deliveries (subscriber_id, entity_id, event_received_at)
       WHERE status IN ('pending', 'delivering') AND entity_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS deliveries_unfinished_entity_idx`);
    await q.query(`DROP INDEX IF EXISTS deliveries_subscriber_due_idx`);
    await q.query(`ALTER TABLE deliveries DROP COLUMN IF EXISTS entity_id, DROP COLUMN IF EXISTS event_received_at`);
  }
}
