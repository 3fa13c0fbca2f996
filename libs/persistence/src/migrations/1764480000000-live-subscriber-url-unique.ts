import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from './concurrent-index';

/** The unique index on a clinic's live subscribers' URLs (SubscriberRepository maps a violation of it to a refusal). */
export const LIVE_SUBSCRIBER_URL_INDEX = 'subscribers_live_url_idx';

/** Names this migration in the audit entries of the subscribers it deletes (`route` and `request_id`). */
const AUDIT_NAME = 'migration:LiveSubscriberUrlUnique1764480000000';

/**
 * One live subscriber per URL per clinic, in the database: a unique index on `subscribers (clinic_id, url)`
 * of the rows not deleted (`deleted_at IS NULL`). The admin API checks it under the clinic's row lock; before
 * that lock, two requests racing could each pass the check and leave two live rows on one URL, every event
 * then delivered twice, and a write from anything else (SQL, another tool) never took the lock. `url` is
 * what the admin API compares and stores: the normalized URL (`https://Example.COM` is stored as
 * `https://example.com/`), at most 2,048 characters, which a btree entry holds.
 *
 * First the duplicates already there are resolved: per clinic and URL the oldest live row (`created_at`,
 * then id) is kept, and the others are deleted as `DELETE /api/external/webhook/:id` deletes (deleted_at set,
 * disabled, their pending and parked deliveries cancelled; a delivery under way ends when its attempt is
 * recorded, as after any delete), each with an audit entry (operator, DELETE, the webhook as target, this
 * migration as route and request id). Deleted rows never counted and do not now.
 *
 * The index is built CONCURRENTLY, outside a transaction, so an upgrade blocks neither fan-out nor the admin
 * API; an invalid index an interrupted build left is dropped and built again. A duplicate written between
 * the clean-up and the build (only by something that bypasses the admin API) fails the build: running the
 * migrations again resolves it and builds the index. `down` drops the index; the deleted duplicates stay deleted.
 */
export class LiveSubscriberUrlUnique1764480000000 implements MigrationInterface {
  name = 'LiveSubscriberUrlUnique1764480000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // One statement: the rows deleted, their waiting deliveries cancelled and their audit entries commit together.
    await q.query(
      `WITH ranked AS (
         SELECT id, row_number() OVER (PARTITION BY clinic_id, url ORDER BY created_at, id) AS nth
           FROM subscribers WHERE deleted_at IS NULL
       ),
       deleted AS (
         UPDATE subscribers s SET deleted_at = now(), enabled = false, updated_at = now()
           FROM ranked r WHERE s.id = r.id AND r.nth > 1 AND s.deleted_at IS NULL
         RETURNING s.id, s.clinic_id
       ),
       cancelled AS (
         UPDATE deliveries d SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = now()
           FROM deleted WHERE d.clinic_id = deleted.clinic_id AND d.subscriber_id = deleted.id AND d.status IN ('pending', 'parked')
       )
       INSERT INTO audit_log (actor_kind, actor_id, clinic_id, method, route, target_id, fields, request_id, status, error_code)
       SELECT 'operator', NULL, clinic_id, 'DELETE', $1, id::text, '{}', $1, 200, NULL FROM deleted`,
      [AUDIT_NAME],
    );
    // An invalid index a failed build left may still be there: the clean-up only takes rows out of it.
    await createIndexConcurrently(q, LIVE_SUBSCRIBER_URL_INDEX, `subscribers (clinic_id, url) WHERE deleted_at IS NULL`, 'UNIQUE INDEX');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${LIVE_SUBSCRIBER_URL_INDEX}`);
  }
}
