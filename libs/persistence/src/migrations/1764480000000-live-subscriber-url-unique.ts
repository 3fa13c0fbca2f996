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
 * `https://example.com/`, at most 2,048 characters). A longer one written past the API (over ~2,700 bytes,
 * more than a btree entry holds) fails the build every time: shorten or delete it, then migrate again.
 *
 * First the copies already there are resolved, per clinic and URL, keeping the one the receiver most likely
 * knows: an enabled one before a disabled one (an operator who disabled a copy to stop the double sends keeps
 * the other), then the one whose deliveries last succeeded (its signing secret is the one the receiver
 * checks: a client that retried a timed-out create kept the second answer's secret), then the newest, then
 * the lowest id. Nothing a copy was owed is lost:
 * - the kept one subscribes to every event type any copy did (audited as a PATCH of `event_types`);
 * - the others are deleted as `DELETE /api/external/webhook/:id` deletes (deleted_at set, disabled, audited);
 * - their waiting and parked deliveries move to the kept one, one per event, unless it has its own for that
 *   event (those are cancelled: it gets the event once). A delivery under way ends when its attempt is
 *   recorded, as after any delete.
 * Deleted rows never counted and do not now.
 *
 * The index is built CONCURRENTLY, outside a transaction, so an upgrade blocks neither fan-out nor the admin
 * API; an invalid index an interrupted build left is dropped and built again. A duplicate written between
 * the clean-up and the build (only by something that bypasses the admin API) fails the build: running the
 * migrations again resolves it and builds the index. `down` drops the index; the deleted copies stay deleted.
 */
export class LiveSubscriberUrlUnique1764480000000 implements MigrationInterface {
  name = 'LiveSubscriberUrlUnique1764480000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // One statement: every change and its audit entries commit together. Each delivery is written by one of
    // `moved` and `cancelled` only (they split `waiting`), each subscriber by one of `merged` and `deleted`.
    await q.query(
      `WITH copies AS (
         SELECT s.id, s.clinic_id, s.url, s.enabled, s.created_at, s.event_types
           FROM subscribers s
          WHERE s.deleted_at IS NULL
            AND EXISTS (SELECT 1 FROM subscribers o WHERE o.clinic_id = s.clinic_id AND o.url = s.url AND o.deleted_at IS NULL AND o.id <> s.id)
       ),
       ranked AS (
         SELECT c.*, row_number() OVER (PARTITION BY c.clinic_id, c.url ORDER BY c.enabled DESC, ok.at DESC NULLS LAST, c.created_at DESC, c.id) AS nth
           FROM copies c
           LEFT JOIN LATERAL (SELECT max(d.updated_at) AS at FROM deliveries d
                               WHERE d.clinic_id = c.clinic_id AND d.subscriber_id = c.id AND d.status = 'succeeded') ok ON true
       ),
       kept AS (SELECT id, clinic_id, url, event_types FROM ranked WHERE nth = 1),
       wanted AS (
         SELECT k.id, k.clinic_id, CASE WHEN '*' = ANY(u.types) THEN ARRAY['*'] ELSE u.types END AS types
           FROM kept k
          CROSS JOIN LATERAL (SELECT array_agg(DISTINCT t ORDER BY t) AS types FROM ranked r, unnest(r.event_types) t
                               WHERE r.clinic_id = k.clinic_id AND r.url = k.url) u
          WHERE NOT (k.event_types @> CASE WHEN '*' = ANY(u.types) THEN ARRAY['*'] ELSE u.types END)
       ),
       merged AS (
         UPDATE subscribers s SET event_types = w.types, updated_at = now() FROM wanted w WHERE s.id = w.id
         RETURNING s.id, s.clinic_id
       ),
       deleted AS (
         UPDATE subscribers s SET deleted_at = now(), enabled = false, updated_at = now()
           FROM ranked r WHERE s.id = r.id AND r.nth > 1
         RETURNING s.id, s.clinic_id, s.url
       ),
       waiting AS (
         SELECT d.id, k.id AS kept_id,
                row_number() OVER (PARTITION BY k.id, d.event_id ORDER BY d.created_at, d.id) AS nth,
                EXISTS (SELECT 1 FROM deliveries o WHERE o.clinic_id = k.clinic_id AND o.subscriber_id = k.id AND o.event_id = d.event_id) AS kept_has_it
           FROM deleted x
           JOIN kept k ON k.clinic_id = x.clinic_id AND k.url = x.url
           JOIN deliveries d ON d.clinic_id = x.clinic_id AND d.subscriber_id = x.id AND d.status IN ('pending', 'parked')
       ),
       moved AS (
         UPDATE deliveries d SET subscriber_id = w.kept_id, updated_at = now()
           FROM waiting w WHERE d.id = w.id AND w.nth = 1 AND NOT w.kept_has_it
       ),
       cancelled AS (
         UPDATE deliveries d SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = now()
           FROM waiting w WHERE d.id = w.id AND (w.nth > 1 OR w.kept_has_it)
       )
       INSERT INTO audit_log (actor_kind, actor_id, clinic_id, method, route, target_id, fields, request_id, status, error_code)
       SELECT 'operator', NULL, clinic_id, 'DELETE', $1, id::text, '{}'::text[], $1, 200, NULL FROM deleted
       UNION ALL
       SELECT 'operator', NULL, clinic_id, 'PATCH', $1, id::text, '{event_types}'::text[], $1, 200, NULL FROM merged`,
      [AUDIT_NAME],
    );
    // An invalid index a failed build left may still be there: the clean-up only takes rows out of it.
    await createIndexConcurrently(q, LIVE_SUBSCRIBER_URL_INDEX, `subscribers (clinic_id, url) WHERE deleted_at IS NULL`, 'UNIQUE INDEX');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${LIVE_SUBSCRIBER_URL_INDEX}`);
  }
}
