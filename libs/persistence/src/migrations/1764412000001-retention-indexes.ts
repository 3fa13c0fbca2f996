import { ConcurrentIndexesMigration, IndexDefinition } from './concurrent-index';

/** The retention sweeper's questions, each answered from an index (RetentionRepository). */
const INDEXES: IndexDefinition[] = [
  ['deliveries_succeeded_at_idx', `deliveries (delivered_at) WHERE status = 'succeeded'`],
  ['deliveries_dead_at_idx', `deliveries (dead_at) WHERE status = 'dead'`],
  ['events_received_at_idx', `events (received_at, id)`],
  ['subscribers_deleted_at_idx', `subscribers (deleted_at) WHERE deleted_at IS NOT NULL`],
];

/**
 * Built CONCURRENTLY, so an upgrade does not block fan-out's inserts while a large table is indexed: outside
 * a transaction, and an index left invalid by an interrupted build is dropped and built again.
 */
export class RetentionIndexes1764412000001 extends ConcurrentIndexesMigration {
  name = 'RetentionIndexes1764412000001';
  protected readonly indexes = INDEXES;
}
