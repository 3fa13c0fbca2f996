import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from './concurrent-index';

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

/** Creates the partial index `name` of the deliveries in `statuses` (an invalid one an interrupted build left is built again). */
async function rebuild(q: QueryRunner, name: string, statuses: string): Promise<void> {
  await createIndexConcurrently(q, name, `deliveries (subscriber_id, entity_id, stream_seq) WHERE ${statuses} AND entity_id IS NOT NULL`);
}
