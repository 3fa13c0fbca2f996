import { ConcurrentIndexesMigration, IndexDefinition } from './concurrent-index';

/**
 * The dead letters pages, newest first (DeliveryQueryRepository.list with `status = 'dead'`): every clinic's
 * (`GET /admin/dead-letters`, the operator console's Dead letters view), one clinic's, and one webhook's. Without
 * them a page read every dead letter and sorted them all (every clinic's, or one webhook's), or walked all of a
 * clinic's deliveries newest first passing over the delivered ones: after an outage that dead-lettered a
 * subscriber's week, each page load read hundreds of thousands of rows. Partial: only dead letters are in them,
 * so fan-out's inserts and the moves between other statuses do not write them. Built CONCURRENTLY, outside a
 * transaction, like the retention indexes.
 */
const INDEXES: IndexDefinition[] = [
  ['deliveries_dead_created_idx', `deliveries (created_at DESC, id DESC) WHERE status = 'dead'`],
  ['deliveries_clinic_dead_created_idx', `deliveries (clinic_id, created_at DESC, id DESC) WHERE status = 'dead'`],
  ['deliveries_subscriber_dead_created_idx', `deliveries (subscriber_id, created_at DESC, id DESC) WHERE status = 'dead'`],
];

export class DeadLetterListIndexes1764490000000 extends ConcurrentIndexesMigration {
  name = 'DeadLetterListIndexes1764490000000';
  protected readonly indexes = INDEXES;
}
