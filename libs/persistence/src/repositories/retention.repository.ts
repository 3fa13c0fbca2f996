import { DataSource } from 'typeorm';
import { rawQuery } from '../raw-query';

/** Where the keyset scan of old events stopped (received_at as Postgres text, to keep its microseconds). */
export interface EventScanCursor {
  receivedAt: string;
  id: string;
}

const ms = (param: string) => `make_interval(secs => ${param}::double precision / 1000)`;

/**
 * The retention sweeper's deletes (RetentionSweeper). Each method is one statement, so one short
 * transaction: it takes at most `limit` rows, skips rows another transaction holds (a worker delivering
 * them, another sweeper), and never touches a delivery that is waiting or under way. Attempts go with
 * their delivery and an event with its last delivery, in the same statement (the store's rows have no
 * foreign keys to cascade: migration 1764460000000).
 */
export class RetentionRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Deletes finished deliveries — `succeeded` ones delivered, or `dead` ones dead-lettered, longer than
   * `olderThanMs` ago — with their attempts, and the events that are left without any delivery.
   */
  async deleteFinishedDeliveries(status: 'succeeded' | 'dead', olderThanMs: number, limit: number): Promise<{ deliveries: number; events: number }> {
    const finishedAt = status === 'succeeded' ? 'delivered_at' : 'dead_at';
    return this.deleteDeliveriesWithEvents(
      `SELECT id, event_id FROM deliveries WHERE status = '${status}' AND ${finishedAt} < now() - ${ms('$1')} LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [olderThanMs, limit],
    );
  }

  /**
   * Deletes the deliveries of subscribers deleted longer than `olderThanMs` ago (they are never attempted
   * again; whatever their status, except one under way), and the events left without any delivery.
   */
  async deleteDeliveriesOfDeletedSubscribers(olderThanMs: number, limit: number): Promise<{ deliveries: number; events: number }> {
    return this.deleteDeliveriesWithEvents(
      `SELECT d.id, d.event_id FROM subscribers s JOIN deliveries d ON d.subscriber_id = s.id
        WHERE s.deleted_at < now() - ${ms('$1')} AND d.status <> 'delivering' LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
      [olderThanMs, limit],
    );
  }

  /** Hard-deletes subscribers deleted longer than `olderThanMs` ago that have no delivery left. */
  async deleteDeletedSubscribers(olderThanMs: number, limit: number): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `DELETE FROM subscribers WHERE id IN (
         SELECT s.id FROM subscribers s
          WHERE s.deleted_at < now() - ${ms('$1')} AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscriber_id = s.id)
          LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [olderThanMs, limit],
    );
    return affected;
  }

  private async deleteDeliveriesWithEvents(select: string, params: unknown[]): Promise<{ deliveries: number; events: number }> {
    // The main query sees the table as it was before this statement's deletes, hence `NOT IN gone`.
    const [row] = await rawQuery(
      this.ds,
      `WITH doomed AS (${select}),
       gone AS (DELETE FROM deliveries d USING doomed WHERE d.id = doomed.id RETURNING d.id, d.event_id),
       attempts_gone AS (DELETE FROM delivery_attempts a USING gone WHERE a.delivery_id = gone.id),
       events_gone AS (
         DELETE FROM events e WHERE e.id IN (SELECT event_id FROM gone)
            AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.event_id = e.id AND x.id NOT IN (SELECT id FROM gone))
         RETURNING e.id
       )
       SELECT (SELECT count(*) FROM gone)::int AS deliveries, (SELECT count(*) FROM events_gone)::int AS events`,
      params,
    );
    return { deliveries: row.deliveries, events: row.events };
  }

  /**
   * Deletes events received longer than `olderThanMs` ago that have no delivery (no subscriber took them,
   * or theirs went without taking the event along), scanning at most `scan` events after `after` in
   * received order. Events that still have a delivery are passed over, and the cursor moves past them, so
   * one sweep reads each old event once however many are kept.
   */
  async deleteEventsWithoutDeliveries(
    olderThanMs: number,
    after: EventScanCursor | null,
    scan: number,
  ): Promise<{ deleted: number; scanned: number; next: EventScanCursor | null }> {
    const [row] = await rawQuery(
      this.ds,
      `WITH scanned AS (
         SELECT id, received_at FROM events
          WHERE received_at < now() - ${ms('$1')} AND ($2::timestamptz IS NULL OR (received_at, id) > ($2::timestamptz, $3::uuid))
          ORDER BY received_at, id LIMIT $4
       ),
       doomed AS (
         SELECT e.id FROM events e JOIN scanned s ON s.id = e.id
          WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
          FOR UPDATE OF e SKIP LOCKED
       ),
       gone AS (DELETE FROM events e USING doomed WHERE e.id = doomed.id RETURNING e.id),
       last AS (SELECT received_at::text AS received_at, id FROM scanned ORDER BY received_at DESC, id DESC LIMIT 1)
       SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM scanned)::int AS scanned,
              (SELECT received_at FROM last) AS last_at, (SELECT id FROM last) AS last_id`,
      [olderThanMs, after?.receivedAt ?? null, after?.id ?? null, scan],
    );
    return { deleted: row.deleted, scanned: row.scanned, next: row.last_at ? { receivedAt: row.last_at, id: row.last_id } : null };
  }

  /** Deletes audit entries older than `olderThanMs`. */
  async deleteAuditEntries(olderThanMs: number, limit: number): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < now() - ${ms('$1')} ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [olderThanMs, limit],
    );
    return affected;
  }

  /**
   * Deletes console (portal) sessions that ended — expired, or revoked before that — longer than `olderThanMs`
   * ago. Operators issue them by hand, so the table stays small and is read whole.
   */
  async deleteEndedPortalSessions(olderThanMs: number, limit: number): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `DELETE FROM portal_sessions WHERE id IN (
         SELECT id FROM portal_sessions WHERE LEAST(expires_at, revoked_at) < now() - ${ms('$1')} LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [olderThanMs, limit],
    );
    return affected;
  }

  /** Deletes remembered `Idempotency-Key` answers whose TTL ran out (a claim whose request still runs only once its lock ran out too). */
  async deleteExpiredIdempotencyKeys(limit: number): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `DELETE FROM request_idempotency WHERE (scope, key) IN (
         SELECT scope, key FROM request_idempotency WHERE expires_at <= now() AND NOT (state = 'running' AND locked_until > now())
          LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [limit],
    );
    return affected;
  }
}
