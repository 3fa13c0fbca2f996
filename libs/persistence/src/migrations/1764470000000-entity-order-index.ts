import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The index an ordered lease probes for an earlier unfinished delivery about the same entity now covers
 * `parked` rows too: a delivery stored parked beside an enabled subscriber (fan-out's cached view predates
 * the enable) is still to be sent, and a later one about its entity must wait for it. Built CONCURRENTLY,
 * outside a transaction, before the old one is dropped, so an upgrade blocks neither fan-out's inserts nor
 * the scheduler's leases.
 */
export class EntityOrderIndex1764470000000 implements MigrationInterface {
  name = 'EntityOrderIndex1764470000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await rebuild(q, 'deliveries_entity_order_idx', `status IN ('pending', 'delivering', 'parked')`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS deliveries_unfinished_entity_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await rebuild(q, 'deliveries_unfinished_entity_idx', `status IN ('pending', 'delivering')`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS deliveries_entity_order_idx`);
  }
}

/** Creates the partial index `name`, first dropping an invalid one an interrupted build left. */
async function rebuild(q: QueryRunner, name: string, statuses: string): Promise<void> {
  const invalid = await q.query(
    `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
    [name],
  );
  if (invalid.length > 0) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON deliveries (subscriber_id, entity_id, stream_seq) WHERE ${statuses} AND entity_id IS NOT NULL`);
}
