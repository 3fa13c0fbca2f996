import { DataSource } from 'typeorm';
import { MicroBatcher } from '@switchyard/batching';
import { pgArray, rawQuery } from '../raw-query';
import { AttemptOutcome, DeliveryStatus } from '../entities';
import type { KeyRing } from '@switchyard/secrets';
import { DELIVERIES_DUE_CHANNEL } from '../migrations';
import { SubscriberTarget, TARGET_COLUMNS, readTarget } from './subscriber.repository';

export interface StoredEvent {
  id: string;
  clinicId: string;
  eventName: string;
  entityId: string | null;
  /** The original request body. */
  payload: string;
  receivedAt: Date;
  traceParent: string | null;
  /** The inbound message's JetStream stream sequence (null for events that did not come through the stream). */
  streamSeq: number | null;
  /**
   * The payload's `event_data`, when whoever built this object has parsed it already (fan-out, for the
   * entity id): rendering a CloudEvent then uses it instead of parsing the payload again. Never stored.
   */
  data?: Record<string, unknown>;
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

/** Where a new delivery stands when its event is stored. */
export type NewDeliveryState =
  /** Waiting for the scheduler, due after `delayMs` (0: now). */
  | { kind: 'queued'; delayMs: number }
  /** Its subscriber is disabled: kept until it is enabled again. */
  | { kind: 'parked' }
  /** Its first attempt is still under way in this process, which holds it for `leaseMs`. */
  | { kind: 'attempting'; leaseMs: number }
  /** Its first attempt is over. */
  | { kind: 'attempted'; attempt: AttemptRecord; resolution: AttemptResolution }
  /**
   * Its subscriber's secret cannot be read (UnreadableSubscriber: `error` is why): nothing can be signed,
   * so it is stored dead-lettered at once, with the error the lease gives a queued one (unreadableSecretError).
   */
  | { kind: 'unreadable'; error: string };

export interface NewDelivery {
  id: string;
  subscriberId: string;
  state: NewDeliveryState;
}

export interface InboundRecord {
  event: StoredEvent;
  deliveries: NewDelivery[];
}

/** A leased attempt's record with the clinic it belongs to (every write names the tenant). */
export interface FinishedAttempt extends AttemptRecord {
  clinicId: string;
  resolution: AttemptResolution;
}

/** One subscriber with deliveries due now, for the scheduler. */
export interface DueSubscriber {
  subscriberId: string;
  clinicId: string;
  ordered: boolean;
  /** Due deliveries, counted up to the subscriber's in-flight limit. */
  due: number;
  /** Whether more than `due` are due (the count stopped at the limit). */
  more: boolean;
  firstDue: Date;
  rateLimitPerSecond: number | null;
  /** Its `max_in_flight` (or the default), as this poll read it. */
  maxInFlight: number;
}

/** The `last_error` of a delivery dead-lettered because its subscriber's secret cannot be read (`error` says why). */
export function unreadableSecretError(error: string): string {
  return `the subscriber's signing secret cannot be read: ${error}`;
}

/** A leased delivery dead-lettered because its subscriber's secret cannot be read (see DeliveryRepository.lease). */
export interface UnreadableDelivery {
  deliveryId: string;
  clinicId: string;
  subscriberId: string;
  eventName: string;
  error: string;
}

export interface LeaseRequest {
  subscriberId: string;
  /** How many deliveries to take (the slots this process holds for the subscriber). */
  take: number;
  ordered: boolean;
}

export interface ReplayFilter {
  /** A clinic's dead letters, or every clinic's (operators only: null). */
  clinicId: string | null;
  ids?: string[];
  subscriberId?: string;
  since?: Date;
  until?: Date;
}

/**
 * The highest stream sequence of a stored event (0 when none): fan-out's first-delivery guard
 * (InboundConsumer), and where a stream created anew numbers on from (ensureStreams).
 */
export async function highestStoredSequence(ds: DataSource): Promise<number> {
  const [row] = await rawQuery(ds, `SELECT COALESCE(max(stream_seq), 0)::text AS seq FROM events WHERE stream_seq IS NOT NULL`);
  return Number(row.seq);
}

const RESOLVED_STATUS: Record<AttemptResolution['kind'], DeliveryStatus> = {
  succeeded: 'succeeded',
  retry: 'pending',
  dead: 'dead',
  parked: 'parked',
};

/** Column arrays (for `unnest`) of rows, one array literal per getter. */
function columns<T>(rows: T[], ...getters: Array<(row: T) => string | number | Date | null>): string[] {
  return getters.map((get) => pgArray(rows.map(get)));
}

/** The eight columns of `delivery_attempts` rows, in the order both writers unnest them. */
const attemptColumns = (attempts: AttemptRecord[]) =>
  columns(
    attempts,
    (a) => a.deliveryId,
    (a) => a.attempt,
    (a) => a.outcome,
    (a) => a.statusCode,
    (a) => a.durationMs,
    (a) => a.error,
    (a) => a.responseExcerpt,
    (a) => a.startedAt,
  );

/** The status a new delivery is stored with. */
function storedStatus(state: NewDeliveryState): DeliveryStatus {
  switch (state.kind) {
    case 'queued':
      return 'pending';
    case 'parked':
      return 'parked';
    case 'attempting':
      return 'delivering';
    case 'attempted':
      return RESOLVED_STATUS[state.resolution.kind];
    case 'unreadable':
      return 'dead';
  }
}

/**
 * The one owner of delivery state. Every transition a delivery can make is one statement here, and every
 * statement that targets a clinic's deliveries takes the clinic id:
 *
 *   (new) ──store──▶ pending | delivering | succeeded | dead | parked
 *   pending ──lease──▶ delivering ──record──▶ succeeded | pending (retry) | dead | parked (410)
 *   delivering ──expire lease──▶ pending          delivering ──defer (throttled)──▶ pending
 *   pending ──disable subscriber──▶ parked ──enable subscriber──▶ pending
 *   pending | parked ──delete subscriber──▶ cancelled
 *   dead ──replay──▶ pending (fresh attempt budget)
 *   succeeded | dead ──resend──▶ pending (fresh attempt budget)
 *   (new, test event) ──store──▶ pending
 *
 * Statements that change several deliveries lock their rows in id order first (a `locked` CTE, `ORDER BY id
 * FOR NO KEY UPDATE`), so two that meet on the same rows — a lease renewal and an attempt's record, in a
 * drain — wait for each other instead of deadlocking; the expired-lease sweep skips rows another statement
 * holds (their owner is alive) and takes them on a later sweep.
 *
 * A retry that finds its subscriber disabled is parked, one that finds it deleted is cancelled, so no
 * delivery waits for a subscriber that will never take it. Arrival order is the stream sequence (ties:
 * receive time, then id), never the time a fan-out statement happened to run.
 */
export class DeliveryRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: KeyRing,
  ) {}

  // ---- store -----------------------------------------------------------------------------------

  /**
   * Stores inbound events with their deliveries, and the first attempts already made, in one statement
   * (one round trip and one commit for a whole batch). Idempotent: an event stored before creates nothing
   * (its deliveries and attempts are dropped). Announces new due work to every fan-out replica when
   * `announce` is set. Returns, per record, whether its event is new.
   */
  async storeInbound(records: InboundRecord[], announce: { schema: string; holder: string } | null): Promise<boolean[]> {
    // In key order, so two replicas storing the same events at once (a message handed out twice) lock them
    // in the same order and one waits for the other instead of both deadlocking.
    const events = records.map((r) => r.event).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const deliveries: Array<NewDelivery & { eventId: string }> = [];
    for (const r of records) for (const d of r.deliveries) deliveries.push({ id: d.id, subscriberId: d.subscriberId, state: d.state, eventId: r.event.id });
    deliveries.sort((a, b) => (a.eventId !== b.eventId ? (a.eventId < b.eventId ? -1 : 1) : a.subscriberId < b.subscriberId ? -1 : a.subscriberId > b.subscriberId ? 1 : 0));
    const attempts: AttemptRecord[] = [];
    for (const d of deliveries) if (d.state.kind === 'attempted') attempts.push(d.state.attempt);
    const rows: Array<{ id: string }> = await rawQuery(
      this.ds,
      `WITH ev AS (
         INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at, trace_parent, stream_seq)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::bigint[])
         ON CONFLICT (id) DO NOTHING
         RETURNING id, clinic_id, event_name, entity_id, received_at, stream_seq
       ),
       dl AS (
         INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, entity_id, event_received_at, stream_seq, status,
                                 attempt_count, next_attempt_at, lease_until, last_status_code, last_error, delivered_at, dead_at)
         SELECT i.id, ev.id, ev.clinic_id, i.subscriber_id, ev.event_name, ev.entity_id, ev.received_at, ev.stream_seq, i.status,
                i.attempts,
                CASE WHEN i.status = 'pending' THEN now() + make_interval(secs => i.due_ms / 1000) END,
                CASE WHEN i.status = 'delivering' THEN now() + make_interval(secs => i.lease_ms / 1000) END,
                i.code, i.error,
                CASE WHEN i.status = 'succeeded' THEN now() END,
                CASE WHEN i.status = 'dead' THEN now() END
           FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::text[], $13::int[], $14::double precision[], $15::double precision[],
                       $16::int[], $17::text[])
                AS i(id, event_id, subscriber_id, status, attempts, due_ms, lease_ms, code, error)
           JOIN ev ON ev.id = i.event_id
         ON CONFLICT (event_id, subscriber_id) DO NOTHING
         RETURNING id, status
       ),
       att AS (
         INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at)
         SELECT a.* FROM unnest($18::uuid[], $19::int[], $20::text[], $21::int[], $22::int[], $23::text[], $24::text[], $25::timestamptz[])
                AS a(delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at)
          WHERE a.delivery_id IN (SELECT id FROM dl)
       ),
       announced AS (
         SELECT pg_notify('${DELIVERIES_DUE_CHANNEL}', $26::text) FROM (SELECT 1 FROM dl WHERE status = 'pending' LIMIT 1) due
          WHERE $26::text IS NOT NULL
       )
       SELECT id FROM ev WHERE (SELECT count(*) FROM announced) >= 0`,
      [
        ...columns(events, (e) => e.id, (e) => e.clinicId, (e) => e.eventName, (e) => e.entityId, (e) => e.payload, (e) => e.receivedAt, (e) => e.traceParent, (e) => e.streamSeq),
        ...columns(
          deliveries,
          (d) => d.id,
          (d) => d.eventId,
          (d) => d.subscriberId,
          (d) => storedStatus(d.state),
          (d) => (d.state.kind === 'attempted' ? d.state.attempt.attempt : 0),
          (d) => (d.state.kind === 'queued' ? d.state.delayMs : d.state.kind === 'attempted' && d.state.resolution.kind === 'retry' ? d.state.resolution.delayMs : null),
          (d) => (d.state.kind === 'attempting' ? d.state.leaseMs : null),
          (d) => (d.state.kind === 'attempted' ? d.state.attempt.statusCode : null),
          (d) => (d.state.kind === 'attempted' ? d.state.attempt.error : d.state.kind === 'unreadable' ? unreadableSecretError(d.state.error) : null),
        ),
        ...attemptColumns(attempts),
        announce ? `${announce.schema}:${announce.holder}` : null,
      ],
      // Prepared once per connection (parsed and planned once): its plan touches no table but through a key
      // (the CTEs join the arrays it is given), so the generic plan is as good as a custom one, and the
      // planning of a statement this size was a good part of Postgres's CPU per event (bench/RESULTS.md).
      { name: 'delivery_store_inbound' },
    );
    const created = new Set(rows.map((r) => r.id));
    return records.map((r) => created.has(r.event.id));
  }

  // ---- schedule ----------------------------------------------------------------------------------

  /**
   * Subscribers with deliveries due now (enabled, not deleted), clinics taking turns, and the earliest due
   * time of any waiting delivery (how long the scheduler may sleep). Finds them by skipping through the
   * per-subscriber due index: one probe per subscriber with waiting work, however deep any one backlog is.
   */
  async findDue(defaultMaxInFlight: number, limit: number): Promise<{ due: DueSubscriber[]; nextDueAt: Date | null }> {
    const rows: any[] = await rawQuery(
      this.ds,
      `WITH RECURSIVE waiting AS (
         (SELECT d.subscriber_id, d.next_attempt_at FROM deliveries d
           WHERE d.status = 'pending' ORDER BY d.subscriber_id, d.next_attempt_at LIMIT 1)
         UNION ALL
         SELECT n.subscriber_id, n.next_attempt_at FROM waiting w CROSS JOIN LATERAL (
           SELECT d.subscriber_id, d.next_attempt_at FROM deliveries d
            WHERE d.status = 'pending' AND d.subscriber_id > w.subscriber_id
            ORDER BY d.subscriber_id, d.next_attempt_at LIMIT 1) n
       ),
       takers AS (
         SELECT w.*, s.clinic_id, s.ordered, s.rate_limit_per_second, COALESCE(s.max_in_flight, $1) AS max_in_flight
           FROM waiting w JOIN subscribers s ON s.id = w.subscriber_id
          WHERE s.enabled AND s.deleted_at IS NULL
       )
       (SELECT 'due' AS kind, t.subscriber_id, t.clinic_id, t.ordered, t.rate_limit_per_second, t.next_attempt_at, c.n, t.max_in_flight
          FROM takers t CROSS JOIN LATERAL (
            SELECT count(*)::int AS n FROM (
              SELECT 1 FROM deliveries d WHERE d.subscriber_id = t.subscriber_id AND d.status = 'pending' AND d.next_attempt_at <= now()
               LIMIT t.max_in_flight + 1) x) c
         WHERE t.next_attempt_at <= now()
         -- Clinics take turns: every clinic's longest-waiting subscriber before any clinic's second.
         ORDER BY row_number() OVER (PARTITION BY t.clinic_id ORDER BY t.next_attempt_at), t.next_attempt_at
         LIMIT $2)
       UNION ALL
       SELECT 'next', NULL, NULL, NULL, NULL, min(next_attempt_at), NULL, NULL FROM takers WHERE next_attempt_at > now()`,
      [defaultMaxInFlight, limit],
    );
    const next = rows.find((r) => r.kind === 'next');
    return {
      due: rows
        .filter((r) => r.kind === 'due')
        .map((r) => ({
          subscriberId: r.subscriber_id,
          clinicId: r.clinic_id,
          ordered: r.ordered,
          due: Math.min(r.n, r.max_in_flight),
          more: r.n > r.max_in_flight,
          firstDue: r.next_attempt_at,
          rateLimitPerSecond: r.rate_limit_per_second,
          maxInFlight: r.max_in_flight,
        })),
      nextDueAt: next?.next_attempt_at ?? null,
    };
  }

  /**
   * Takes due deliveries under a lease: up to `take` per subscriber (the in-flight slots the caller holds
   * for it), earliest due first, then in arrival order. For an `ordered` subscriber a delivery about an
   * entity is taken only when (a) every inbound message before it is stored — the stream sequence is at
   * most `storedThrough + 1`, where `storedThrough` is the fan-out consumer's ack floor (a message is acked
   * only once its deliveries are stored), null if unknown — and (b) no earlier delivery about the same
   * entity is still pending, delivering or parked (one stored parked beside the enabled subscriber waits for
   * the reaper's `unparkStranded`, and goes first). Rows locked by another replica are skipped, not waited for.
   */
  async lease(
    requests: LeaseRequest[],
    storedThrough: number | null,
    leaseMs: number,
    onDeadLettered: (dead: UnreadableDelivery[]) => void = () => undefined,
  ): Promise<DeliveryJob[]> {
    if (requests.length === 0) return [];
    const rows: any[] = await rawQuery(
      this.ds,
      `WITH quota AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::boolean[]) AS q(subscriber_id, take, ordered)),
       picked AS (
         SELECT p.id FROM quota q CROSS JOIN LATERAL (
           SELECT d.id FROM deliveries d
            WHERE d.subscriber_id = q.subscriber_id AND d.status = 'pending' AND d.next_attempt_at <= now()
              AND (NOT q.ordered OR d.entity_id IS NULL OR (
                    ($4::bigint IS NOT NULL AND COALESCE(d.stream_seq, 0) <= $4::bigint + 1)
                    AND NOT EXISTS (
                      SELECT 1 FROM deliveries x
                       WHERE x.subscriber_id = d.subscriber_id AND x.entity_id = d.entity_id
                         AND x.status IN ('pending', 'delivering', 'parked')
                         AND (COALESCE(x.stream_seq, 0), x.event_received_at, x.id) < (COALESCE(d.stream_seq, 0), d.event_received_at, d.id))))
            ORDER BY d.next_attempt_at, d.stream_seq, d.id
            LIMIT q.take FOR UPDATE SKIP LOCKED
         ) p
       ),
       leased AS (
         UPDATE deliveries d SET status = 'delivering', lease_until = now() + make_interval(secs => $5::double precision / 1000), updated_at = now()
           FROM picked WHERE d.id = picked.id
         RETURNING d.id, d.attempt_count, d.event_id, d.subscriber_id
       )
       SELECT l.id AS delivery_id, l.attempt_count, e.id AS event_id, e.clinic_id AS event_clinic_id, e.event_name,
              e.entity_id, e.payload, e.received_at, e.trace_parent, e.stream_seq, ${TARGET_COLUMNS}
         FROM leased l JOIN events e ON e.id = l.event_id JOIN subscribers s ON s.id = l.subscriber_id`,
      [requests.map((r) => r.subscriberId), requests.map((r) => r.take), requests.map((r) => r.ordered), storedThrough, leaseMs],
    );
    const jobs: DeliveryJob[] = [];
    const unreadable: UnreadableDelivery[] = [];
    for (const r of rows) {
      const read = readTarget(r, this.keys);
      if ('unreadable' in read) {
        unreadable.push({ deliveryId: r.delivery_id, clinicId: r.event_clinic_id, subscriberId: r.id, eventName: r.event_name, error: read.unreadable.error });
        continue;
      }
      jobs.push({
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
          streamSeq: r.stream_seq === null ? null : Number(r.stream_seq),
        },
        subscriber: read.target,
      });
    }
    if (unreadable.length > 0) {
      await this.deadLetterUnreadable(unreadable);
      onDeadLettered(unreadable);
    }
    return jobs;
  }

  /**
   * Dead-letters leased deliveries whose subscriber's secret does not decrypt (its key was taken out of
   * SECRETS_KEYS, or the row was altered): they cannot be signed, and they are already leased. Thrown from
   * the lease, that one subscriber took every delivery of the same poll with it — any clinic's — leased
   * and left until the lease ran out, then again at every poll. Dead letters say why (unreadableSecretError,
   * as fan-out stores those of new events: NewDeliveryState 'unreadable') and can be replayed once the key
   * is back.
   */
  private async deadLetterUnreadable(dead: UnreadableDelivery[]): Promise<void> {
    await rawQuery(
      this.ds,
      `WITH locked AS MATERIALIZED (
         SELECT d.id, u.error FROM deliveries d JOIN unnest($1::uuid[], $2::text[]) AS u(id, error) ON u.id = d.id
          WHERE d.status = 'delivering' ORDER BY d.id FOR NO KEY UPDATE
       )
       UPDATE deliveries d SET status = 'dead', dead_at = now(), lease_until = NULL, next_attempt_at = NULL,
              last_error = locked.error, updated_at = now()
         FROM locked WHERE d.id = locked.id`,
      [dead.map((u) => u.deliveryId), dead.map((u) => unreadableSecretError(u.error))],
    );
  }

  /** Extends the leases of deliveries this worker is still attempting, so a slow attempt is not taken twice. */
  async renewLeases(deliveryIds: string[], leaseMs: number): Promise<void> {
    if (deliveryIds.length === 0) return;
    await rawQuery(
      this.ds,
      `WITH locked AS MATERIALIZED (
         SELECT id FROM deliveries WHERE id = ANY($1::uuid[]) AND status = 'delivering' ORDER BY id FOR NO KEY UPDATE
       )
       UPDATE deliveries d SET lease_until = now() + make_interval(secs => $2::double precision / 1000)
         FROM locked WHERE d.id = locked.id`,
      [deliveryIds, leaseMs],
    );
  }

  /** Deliveries whose worker died mid-attempt (lease ran out) become due again. Scheduler-wide: no clinic. */
  async releaseExpiredLeases(): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `WITH expired AS MATERIALIZED (
         SELECT id FROM deliveries WHERE status = 'delivering' AND lease_until < now() ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
       )
       UPDATE deliveries d SET status = 'pending', lease_until = NULL, next_attempt_at = now(), updated_at = now()
         FROM expired WHERE d.id = expired.id`,
    );
    return affected;
  }

  /**
   * Puts back in the queue, due now, deliveries left `parked` while their subscriber is enabled, and returns
   * how many. A delivery is parked only while its subscriber is disabled, but two writers decide it from what
   * they read earlier: fan-out stores a new delivery `parked` from its cached subscriber up to the fast-path
   * wait and the store window after reading it, and an attempt's record parks its retry from the statement's
   * snapshot. An enable that commits in between unparks what it sees, not the rows that land after it, which
   * then nothing would ever attempt. Found through each enabled subscriber's `(subscriber_id, status)` index:
   * one probe per subscriber; rows another transaction holds are left to the next call.
   */
  async unparkStranded(limit = 1_000): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `WITH stranded AS MATERIALIZED (
         SELECT p.id FROM subscribers s CROSS JOIN LATERAL (
           SELECT d.id FROM deliveries d WHERE d.subscriber_id = s.id AND d.status = 'parked' LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED
         ) p
          WHERE s.enabled AND s.deleted_at IS NULL
          LIMIT $1
       )
       UPDATE deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now()
         FROM stranded WHERE d.id = stranded.id`,
      [limit],
    );
    return affected;
  }

  // ---- record ------------------------------------------------------------------------------------

  /**
   * Records an attempt of a delivery that is stored `delivering` and moves it on. Attempts that finish
   * together are written in one statement (MicroBatcher). Resolves once this attempt's row is committed;
   * rejects only for this attempt's own failure.
   *
   * The attempt is always written down (it happened), but it moves its delivery on only while that is still
   * `delivering` or back to `pending` (its lease ran out under a slow attempt: the answer that arrives late is
   * still the latest news). A delivery that another worker has meanwhile finished (succeeded, dead-lettered)
   * or that was parked or cancelled keeps its state: a late retry must not put a delivered event back in
   * the queue, nor a late failure turn a success into a dead letter.
   */
  async recordAttempt(a: FinishedAttempt): Promise<void> {
    const failure = await this.attempts.submit(a);
    if (failure) throw failure;
  }

  private readonly attempts = new MicroBatcher<FinishedAttempt, Error | null>((batch) => this.writeAttempts(batch));

  /**
   * One statement for a batch. If it fails (one record's values rejected), the records are written one by
   * one so that only the bad one fails; an attempt of a delivery deleted meanwhile writes nothing. A
   * delivery listed twice (its lease ran out mid-attempt and it was taken again) is written one by one too.
   */
  private async writeAttempts(batch: FinishedAttempt[]): Promise<Array<Error | null>> {
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

  private async writeAttemptRows(batch: FinishedAttempt[]): Promise<void> {
    await rawQuery(
      this.ds,
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::timestamptz[],
                              $9::text[], $10::double precision[], $11::uuid[])
           AS i(delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at, status, delay_ms, clinic_id)
       ),
       attempt AS (
         INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at)
         SELECT i.delivery_id, i.attempt, i.outcome, i.status_code, i.duration_ms, i.error, i.response_excerpt, i.started_at
           FROM input i JOIN deliveries d ON d.id = i.delivery_id AND d.clinic_id = i.clinic_id
       ),
       locked AS MATERIALIZED (
         SELECT d.id FROM deliveries d JOIN input i ON d.id = i.delivery_id AND d.clinic_id = i.clinic_id
          WHERE d.status IN ('delivering', 'pending')
          ORDER BY d.id FOR NO KEY UPDATE OF d
       )
       UPDATE deliveries d SET
         status = CASE
           WHEN i.status = 'pending' AND s.deleted_at IS NOT NULL THEN 'cancelled'
           WHEN i.status = 'pending' AND NOT s.enabled THEN 'parked'
           ELSE i.status END,
         attempt_count = GREATEST(d.attempt_count, i.attempt),
         lease_until = NULL,
         next_attempt_at = CASE WHEN i.status = 'pending' AND s.enabled THEN now() + make_interval(secs => i.delay_ms / 1000) END,
         last_status_code = i.status_code,
         last_error = i.error,
         delivered_at = CASE WHEN i.status = 'succeeded' THEN now() ELSE d.delivered_at END,
         dead_at = CASE WHEN i.status = 'dead' THEN now() ELSE d.dead_at END,
         updated_at = now()
       FROM input i, locked l, subscribers s
       WHERE d.id = i.delivery_id AND l.id = d.id AND s.id = d.subscriber_id`,
      [
        ...attemptColumns(batch),
        ...columns(
          batch,
          (a) => RESOLVED_STATUS[a.resolution.kind],
          (a) => (a.resolution.kind === 'retry' ? a.resolution.delayMs : null),
          (a) => a.clinicId,
        ),
      ],
    );
  }

  /** Puts leased deliveries back, each due after its delay, without spending an attempt (they were throttled). */
  async defer(clinicId: string, deferrals: Array<{ deliveryId: string; delayMs: number }>): Promise<void> {
    if (deferrals.length === 0) return;
    await rawQuery(
      this.ds,
      `WITH i AS (SELECT * FROM unnest($2::uuid[], $3::double precision[]) AS i(id, delay_ms)),
       locked AS MATERIALIZED (
         SELECT d.id FROM deliveries d JOIN i ON d.id = i.id WHERE d.clinic_id = $1 AND d.status = 'delivering' ORDER BY d.id FOR NO KEY UPDATE OF d
       )
       UPDATE deliveries d SET status = 'pending', lease_until = NULL,
              next_attempt_at = now() + make_interval(secs => i.delay_ms / 1000), updated_at = now()
         FROM i, locked l WHERE d.id = i.id AND l.id = d.id`,
      [clinicId, deferrals.map((d) => d.deliveryId), deferrals.map((d) => d.delayMs)],
    );
  }

  // ---- subscriber transitions that move its deliveries --------------------------------------------

  /**
   * Disables a subscriber and parks its waiting deliveries, in one statement (the admin API, or a 410 Gone
   * answer). Deliveries under way finish; a retry they schedule is parked when it is recorded. Returns
   * whether the subscriber was found.
   */
  async disableSubscriber(clinicId: string, subscriberId: string, reason: string): Promise<boolean> {
    const rows = await rawQuery(
      this.ds,
      `WITH s AS (
         UPDATE subscribers SET enabled = false, disabled_reason = $3, updated_at = now()
          WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id
       ),
       parked AS (
         UPDATE deliveries SET status = 'parked', next_attempt_at = NULL, updated_at = now()
          WHERE clinic_id = $1 AND subscriber_id IN (SELECT id FROM s) AND status = 'pending'
       )
       SELECT id FROM s`,
      [clinicId, subscriberId, reason],
    );
    return rows.length > 0;
  }

  /**
   * Enables a subscriber and puts its parked deliveries back in the queue, due now; the scheduler takes
   * them in arrival (stream) order. Announces the work to every fan-out replica. Returns whether found.
   */
  async enableSubscriber(clinicId: string, subscriberId: string, schema: string): Promise<boolean> {
    const rows = await rawQuery(
      this.ds,
      `WITH s AS (
         UPDATE subscribers SET enabled = true, disabled_reason = NULL, updated_at = now()
          WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id
       ),
       unparked AS (
         UPDATE deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()
          WHERE clinic_id = $1 AND subscriber_id IN (SELECT id FROM s) AND status = 'parked'
         RETURNING 1
       )
       SELECT id, (SELECT count(*) FROM (SELECT pg_notify('${DELIVERIES_DUE_CHANNEL}', $3) FROM unparked LIMIT 1) n) AS announced FROM s`,
      [clinicId, subscriberId, `${schema}:admin`],
    );
    return rows.length > 0;
  }

  /**
   * Deletes a subscriber (soft: its delivery history stays) and cancels its waiting and parked
   * deliveries, so they neither count as due nor wait for ever. Returns whether it was found.
   */
  async deleteSubscriber(clinicId: string, subscriberId: string): Promise<boolean> {
    const rows = await rawQuery(
      this.ds,
      `WITH s AS (
         UPDATE subscribers SET deleted_at = now(), enabled = false, updated_at = now()
          WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id
       ),
       cancelled AS (
         UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = now()
          WHERE clinic_id = $1 AND subscriber_id IN (SELECT id FROM s) AND status IN ('pending', 'parked')
       )
       SELECT id FROM s`,
      [clinicId, subscriberId],
    );
    return rows.length > 0;
  }

  // ---- replay ------------------------------------------------------------------------------------

  /**
   * Puts dead-lettered deliveries back in the queue, due now, with a fresh retry budget (the scheduler
   * takes them in arrival order); never those of a deleted subscriber. Returns how many.
   */
  async replay(f: ReplayFilter, schema: string): Promise<number> {
    const params: unknown[] = [schema];
    const where = [`d.status = 'dead'`];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.clinicId) add('d.clinic_id = ?', f.clinicId);
    if (f.ids) add('d.id = ANY(?::uuid[])', f.ids);
    if (f.subscriberId) add('d.subscriber_id = ?', f.subscriberId);
    if (f.since) add('d.dead_at >= ?', f.since);
    if (f.until) add('d.dead_at < ?', f.until);
    const [row] = await rawQuery(
      this.ds,
      // Rows locked in id order first, so two replays whose filters meet on the same dead letters (an operator's
      // by time, a clinic's by subscriber: plans that reach the rows in different orders) wait for each other.
      `WITH locked AS MATERIALIZED (
         SELECT d.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
          WHERE s.deleted_at IS NULL AND ${where.join(' AND ')}
          ORDER BY d.id FOR NO KEY UPDATE OF d
       ),
       replayed AS (
         UPDATE deliveries d SET status = 'pending', attempt_count = 0, next_attempt_at = now(), dead_at = NULL, updated_at = now()
           FROM locked WHERE d.id = locked.id AND d.status = 'dead'
         RETURNING 1
       )
       SELECT count(*)::int AS n, (SELECT count(*) FROM (SELECT pg_notify('${DELIVERIES_DUE_CHANNEL}', $1 || ':admin') FROM replayed LIMIT 1) x) AS announced
         FROM replayed`,
      params,
    );
    return row.n;
  }

  /**
   * Resend (the console): one finished delivery of the clinic — succeeded or dead — back in the queue, due
   * now, with a fresh attempt budget; its attempts so far stay in its history and it keeps its id (the same
   * `webhook-id`). Only while its subscriber is enabled and not deleted. Announces the work. Returns whether
   * it was queued.
   */
  async resend(clinicId: string, deliveryId: string, schema: string): Promise<boolean> {
    const [row] = await rawQuery(
      this.ds,
      `WITH resent AS (
         UPDATE deliveries d SET status = 'pending', attempt_count = 0, next_attempt_at = now(), lease_until = NULL,
                dead_at = NULL, delivered_at = NULL, updated_at = now()
           FROM subscribers s
          WHERE d.clinic_id = $1 AND d.id = $2 AND d.status IN ('succeeded', 'dead')
            AND s.id = d.subscriber_id AND s.clinic_id = $1 AND s.enabled AND s.deleted_at IS NULL
         RETURNING 1
       )
       SELECT count(*)::int AS n, (SELECT count(*) FROM (SELECT pg_notify('${DELIVERIES_DUE_CHANNEL}', $3) FROM resent LIMIT 1) x) AS announced
         FROM resent`,
      [clinicId, deliveryId, `${schema}:admin`],
    );
    return row.n > 0;
  }

  /**
   * A test event (the console) for one subscriber of the clinic: the event row and ONE delivery to that
   * subscriber, pending and due now, in one statement — never fanned out, so no other subscriber gets
   * anything. The scheduler sends it, signed like any other delivery. The caller names the event (the
   * reserved test event name) and writes its body. No stream sequence (it did not come through the
   * stream) and no entity, so an ordered subscriber holds nothing back for it. Announces the work. Returns
   * the delivery id, or null when the subscriber is not the clinic's, is disabled or deleted.
   */
  async storeTestEvent(
    clinicId: string,
    subscriberId: string,
    e: { eventId: string; deliveryId: string; eventName: string; payload: string; receivedAt: Date },
    schema: string,
  ): Promise<string | null> {
    const rows: Array<{ id: string }> = await rawQuery(
      this.ds,
      `WITH target AS (
         SELECT id FROM subscribers WHERE clinic_id = $2 AND id = $3 AND enabled AND deleted_at IS NULL
       ),
       ev AS (
         INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at, stream_seq)
         SELECT $1, $2, $4, NULL, $5, $6, NULL FROM target RETURNING id
       ),
       dl AS (
         INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, entity_id, event_received_at, stream_seq, status, next_attempt_at)
         SELECT $7, ev.id, $2, $3, $4, NULL, $6, NULL, 'pending', now() FROM ev
         RETURNING id
       )
       SELECT id, (SELECT count(*) FROM (SELECT pg_notify('${DELIVERIES_DUE_CHANNEL}', $8) FROM dl LIMIT 1) x) AS announced FROM dl`,
      [e.eventId, clinicId, subscriberId, e.eventName, e.payload, e.receivedAt, e.deliveryId, `${schema}:admin`],
    );
    return rows[0]?.id ?? null;
  }

  /** The highest stream sequence of a stored event (0 when none): see highestStoredSequence. */
  highestStoredSequence(): Promise<number> {
    return highestStoredSequence(this.ds);
  }

  // ---- gauges ------------------------------------------------------------------------------------

  /** Deliveries due now and not taken, of subscribers that can take them (the delivery backlog gauge). */
  async countDue(): Promise<number> {
    const [row] = await rawQuery(
      this.ds,
      `SELECT count(*)::int AS n FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND s.enabled AND s.deleted_at IS NULL`,
    );
    return row.n;
  }
}
