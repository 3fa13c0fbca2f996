import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { rawQuery } from '../raw-query';
import { AttemptOutcome, DeliveryStatus } from '../entities';
import { MicroBatcher } from '@switchyard/batching';
import type { KeyRing } from '@switchyard/secrets';
import { SubscriberTarget, TARGET_COLUMNS, toTarget } from './subscriber.repository';

export interface StoredEvent {
  id: string;
  clinicId: string;
  eventName: string;
  entityId: string | null;
  /** The original request body. */
  payload: string;
  receivedAt: Date;
  traceParent: string | null;
}

/** Everything one attempt needs: the delivery, its event and its subscriber. */
export interface DeliveryJob {
  deliveryId: string;
  attemptCount: number;
  event: StoredEvent;
  subscriber: SubscriberTarget;
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  outcome: AttemptOutcome;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseExcerpt: string | null;
  startedAt: Date;
}

/** What to do with a delivery after an attempt. */
export type AttemptResolution =
  | { kind: 'succeeded' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'dead' }
  | { kind: 'parked'; reason: string };

export class DeliveryRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: KeyRing,
  ) {}

  /**
   * Stores an event and one delivery per subscriber in one statement (so one round trip and one commit),
   * idempotently: a redelivered input creates nothing new. Deliveries to subscribers in `takeNow` are
   * created already leased by the caller (status `delivering`), so their first attempt needs no extra round
   * trip; the others wait for the scheduler (`pending`, due now), and those of disabled subscribers are
   * `parked`. Returns whether the event is new and the deliveries created by this call.
   */
  async storeEvent(
    event: StoredEvent,
    subscribers: SubscriberTarget[],
    takeNow: Set<string>,
    leaseMs: number,
  ): Promise<{ created: boolean; deliveries: Array<{ id: string; subscriberId: string; status: DeliveryStatus }> }> {
    const ids: string[] = [];
    const subscriberIds: string[] = [];
    const statuses: DeliveryStatus[] = [];
    for (const s of subscribers) {
      ids.push(randomUUID());
      subscriberIds.push(s.id);
      statuses.push(!s.enabled ? 'parked' : takeNow.has(s.id) ? 'delivering' : 'pending');
    }
    // The deliveries reference the event inserted by the same statement: foreign keys are checked at the
    // end of the statement, when the event row exists. Nothing is inserted for an event seen before.
    const rows: Array<{ kind: 'event' | 'delivery'; id: string; subscriber_id: string | null; status: DeliveryStatus | null }> = await rawQuery(
      this.ds,
      `WITH ev AS (
         INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at, trace_parent)
         VALUES ($1, $2, $3, $8, $10, $9, $11) ON CONFLICT (id) DO NOTHING RETURNING id
       ),
       dl AS (
         INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, entity_id, event_received_at, status, next_attempt_at, lease_until)
         SELECT d.id, $1, $2, d.subscriber_id, $3, $8, $9, d.status,
                CASE WHEN d.status = 'parked' THEN NULL ELSE now() END,
                CASE WHEN d.status = 'delivering' THEN now() + make_interval(secs => $7::double precision / 1000) END
           FROM unnest($4::uuid[], $5::uuid[], $6::text[]) AS d(id, subscriber_id, status)
          WHERE EXISTS (SELECT 1 FROM ev)
         ON CONFLICT (event_id, subscriber_id) DO NOTHING
         RETURNING id, subscriber_id, status
       )
       SELECT 'event' AS kind, id, NULL::uuid AS subscriber_id, NULL::text AS status FROM ev
       UNION ALL SELECT 'delivery', id, subscriber_id, status FROM dl`,
      [event.id, event.clinicId, event.eventName, ids, subscriberIds, statuses, leaseMs, event.entityId, event.receivedAt, event.payload, event.traceParent],
    );
    return {
      created: rows.some((r) => r.kind === 'event'),
      deliveries: rows
        .filter((r) => r.kind === 'delivery')
        .map((r) => ({ id: r.id, subscriberId: r.subscriber_id!, status: r.status! })),
    };
  }

  /**
   * Takes up to `limit` due deliveries under a lease, subscribers whose work has waited longest first
   * (so no subscriber is left out for good when more have work than there is room). Each subscriber gets at most its own in-flight limit
   * (`max_in_flight`, else `defaultPerSubscriber`) minus what this process already has under way for it
   * (`inFlight`), so a stuck subscriber holds only its own slots. For an `ordered` subscriber a delivery is
   * taken only when no earlier-received delivery about the same entity is still unfinished (pending or
   * delivering), so one entity in backoff waits alone while the subscriber's other entities go on.
   * Rows locked by another worker are skipped, not waited for. Returns them with their event and subscriber.
   */
  async leaseDue(limit: number, defaultPerSubscriber: number, inFlight: Map<string, number>, leaseMs: number): Promise<DeliveryJob[]> {
    const rows: any[] = await rawQuery(
      this.ds,
      `WITH busy AS (SELECT * FROM unnest($3::uuid[], $5::int[]) AS b(id, n)),
       due_subscribers AS (
         SELECT s.id, s.ordered, COALESCE(s.max_in_flight, $2) - COALESCE(b.n, 0) AS room
           FROM subscribers s LEFT JOIN busy b ON b.id = s.id
          CROSS JOIN LATERAL (SELECT min(d.next_attempt_at) AS first_due FROM deliveries d WHERE d.subscriber_id = s.id AND d.status = 'pending') due
          WHERE s.enabled AND s.deleted_at IS NULL
            AND COALESCE(s.max_in_flight, $2) > COALESCE(b.n, 0)
            AND due.first_due <= now()
          ORDER BY due.first_due LIMIT $1
       ),
       picked AS (
         SELECT p.id FROM due_subscribers s CROSS JOIN LATERAL (
           SELECT d.id FROM deliveries d
            WHERE d.subscriber_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= now()
              AND (NOT s.ordered OR d.entity_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM deliveries x
                 WHERE x.subscriber_id = d.subscriber_id AND x.entity_id = d.entity_id
                   AND x.status IN ('pending', 'delivering')
                   AND (x.event_received_at, x.id) < (d.event_received_at, d.id)))
            ORDER BY d.next_attempt_at LIMIT s.room FOR UPDATE SKIP LOCKED
         ) p LIMIT $1
       ),
       leased AS (
         UPDATE deliveries d SET status = 'delivering', lease_until = now() + make_interval(secs => $4::double precision / 1000), updated_at = now()
           FROM picked WHERE d.id = picked.id
         RETURNING d.id, d.attempt_count, d.event_id, d.subscriber_id
       )
       SELECT l.id AS delivery_id, l.attempt_count, e.id AS event_id, e.clinic_id AS event_clinic_id, e.event_name,
              e.entity_id, e.payload, e.received_at, e.trace_parent, ${TARGET_COLUMNS}
         FROM leased l JOIN events e ON e.id = l.event_id JOIN subscribers s ON s.id = l.subscriber_id`,
      [limit, defaultPerSubscriber, [...inFlight.keys()], leaseMs, [...inFlight.values()]],
    );
    return rows.map((r) => ({
      deliveryId: r.delivery_id,
      attemptCount: r.attempt_count,
      event: {
        id: r.event_id,
        clinicId: r.event_clinic_id,
        eventName: r.event_name,
        entityId: r.entity_id,
        payload: r.payload,
        receivedAt: r.received_at,
        traceParent: r.trace_parent,
      },
      subscriber: toTarget(r, this.keys),
    }));
  }

  /** Extends the leases of deliveries this worker is still attempting, so a slow attempt is not taken twice. */
  async renewLeases(deliveryIds: string[], leaseMs: number): Promise<void> {
    if (deliveryIds.length === 0) return;
    await rawQuery(
      this.ds,
      `UPDATE deliveries SET lease_until = now() + make_interval(secs => $2::double precision / 1000)
        WHERE id = ANY($1::uuid[]) AND status = 'delivering'`,
      [deliveryIds, leaseMs],
    );
  }

  /** Deliveries whose worker died mid-attempt (lease ran out) become due again. */
  async releaseExpiredLeases(): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = now(), updated_at = now()
        WHERE status = 'delivering' AND lease_until < now()`,
    );
    return affected;
  }

  /**
   * Records an attempt and moves the delivery on. Attempts that finish together are written in one
   * statement (see MicroBatcher): a lone attempt is written at once, under load one commit carries many.
   * Resolves once this attempt's row is committed; rejects only for this attempt's own failure.
   */
  async recordAttempt(a: AttemptRecord, resolution: AttemptResolution): Promise<void> {
    const failure = await this.attempts.submit({ ...a, resolution });
    if (failure) throw failure;
  }

  private readonly attempts = new MicroBatcher<AttemptRecord & { resolution: AttemptResolution }, Error | null>((batch) =>
    this.writeAttempts(batch),
  );

  /**
   * One statement for a batch. If it fails (e.g. one delivery was deleted meanwhile and its attempt row
   * breaks the foreign key), the records are written one by one so that only the bad one fails. A
   * delivery listed twice (its lease ran out mid-attempt and it was taken again) is written one by one too,
   * in order, as before batching.
   */
  private async writeAttempts(batch: Array<AttemptRecord & { resolution: AttemptResolution }>): Promise<Array<Error | null>> {
    const distinct = new Set(batch.map((a) => a.deliveryId)).size === batch.length;
    if (batch.length > 1 && distinct) {
      try {
        await this.writeAttemptRows(batch);
        return batch.map(() => null);
      } catch {
        // fall through: one by one
      }
    }
    const results: Array<Error | null> = [];
    for (const a of batch) {
      results.push(await this.writeAttemptRows([a]).then(() => null, (err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
    }
    return results;
  }

  private async writeAttemptRows(batch: Array<AttemptRecord & { resolution: AttemptResolution }>): Promise<void> {
    const statusOf = (r: AttemptResolution): DeliveryStatus =>
      r.kind === 'succeeded' ? 'succeeded' : r.kind === 'retry' ? 'pending' : r.kind === 'dead' ? 'dead' : 'parked';
    await rawQuery(
      this.ds,
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::timestamptz[],
                              $9::text[], $10::double precision[])
           AS i(delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at, status, delay_ms)
       ),
       attempt AS (
         INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at)
         SELECT delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at FROM input
       )
       UPDATE deliveries d SET
         status = i.status,
         attempt_count = GREATEST(d.attempt_count, i.attempt),
         lease_until = NULL,
         next_attempt_at = CASE WHEN i.status = 'pending' THEN now() + make_interval(secs => i.delay_ms / 1000) ELSE NULL END,
         last_status_code = i.status_code,
         last_error = i.error,
         delivered_at = CASE WHEN i.status = 'succeeded' THEN now() ELSE d.delivered_at END,
         dead_at = CASE WHEN i.status = 'dead' THEN now() ELSE d.dead_at END,
         updated_at = now()
       FROM input i
       WHERE d.id = i.delivery_id`,
      [
        batch.map((a) => a.deliveryId),
        batch.map((a) => a.attempt),
        batch.map((a) => a.outcome),
        batch.map((a) => a.statusCode),
        batch.map((a) => a.durationMs),
        batch.map((a) => a.error),
        batch.map((a) => a.responseExcerpt),
        batch.map((a) => a.startedAt),
        batch.map((a) => statusOf(a.resolution)),
        batch.map((a) => (a.resolution.kind === 'retry' ? a.resolution.delayMs : null)),
      ],
    );
  }

  /** Puts a leased delivery back, due after `delayMs`, without spending an attempt (it was throttled). */
  async defer(deliveryId: string, delayMs: number): Promise<void> {
    await rawQuery(
      this.ds,
      `UPDATE deliveries SET status = 'pending', lease_until = NULL,
              next_attempt_at = now() + make_interval(secs => $2::double precision / 1000), updated_at = now()
        WHERE id = $1 AND status = 'delivering'`,
      [deliveryId, delayMs],
    );
  }

  /** Parks the waiting deliveries of a subscriber (it answered 410 Gone or was disabled); they resume on re-enable. */
  async parkWaiting(subscriberId: string): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `UPDATE deliveries SET status = 'parked', next_attempt_at = NULL, updated_at = now()
        WHERE subscriber_id = $1 AND status = 'pending'`,
      [subscriberId],
    );
    return affected;
  }

  /** Count of deliveries due now and not taken (the delivery backlog gauge). */
  async countDue(): Promise<number> {
    const [row] = await rawQuery(this.ds, `SELECT count(*)::int AS n FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()`);
    return row.n;
  }
}
