import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, dropIndexConcurrently } from './concurrent-index';

/**
 * A webhook's health (the console's Webhooks page, `GET /api/external/webhook-health`) counts its attempts of the
 * last 24 h and finds its latest one. `deliveries_subscriber_idx (subscriber_id, status)` holds no time, so both
 * walked every delivery the webhook had in the retention window (a month of a busy one: hundreds of thousands
 * of rows per page load). The same index with `updated_at` after the status serves them (a range per status)
 * and everything the old one did, and replaces it: no more index entries per delivery, each 8 bytes wider.
 * Built CONCURRENTLY, outside a transaction, before the old one is dropped.
 */
export class SubscriberRecentDeliveriesIndex1764500000000 implements MigrationInterface {
  name = 'SubscriberRecentDeliveriesIndex1764500000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'deliveries_subscriber_status_updated_idx', 'deliveries (subscriber_id, status, updated_at)');
    await dropIndexConcurrently(q, 'deliveries_subscriber_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'deliveries_subscriber_idx', 'deliveries (subscriber_id, status)');
    await dropIndexConcurrently(q, 'deliveries_subscriber_status_updated_idx');
  }
}
