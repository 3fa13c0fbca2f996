import { DataSource } from 'typeorm';
import { DELIVERY_STATUSES, DeliveryStatus } from '../entities';
import { UUID_PATTERN } from '../row-id';

export interface DeliveryFilter {
  /** Required: a listing is always of one clinic, or of all clinics for an operator (null). */
  clinicId: string | null;
  subscriberId?: string;
  status?: DeliveryStatus;
  eventName?: string;
  /** Created at or after. */
  since?: Date;
  /** Created before. */
  until?: Date;
  limit: number;
  /** Opaque cursor from the previous page. */
  cursor?: string;
}

export interface DeliveryView {
  id: string;
  event_id: string;
  clinic_id: string;
  webhook_id: string;
  event_name: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  dead_at: string | null;
}

export interface AttemptView {
  attempt: number;
  outcome: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
  started_at: string;
}

export interface TimeRange {
  since?: Date;
  until?: Date;
}

export interface WebhookHealth {
  webhook_id: string;
  attempts_24h: number;
  successes_24h: number;
  /** successes ÷ attempts over the last 24 h; null without attempts. */
  success_rate_24h: number | null;
  last_attempt: { at: string; outcome: string; status_code: number | null } | null;
  /** Pending or being attempted now. */
  waiting: number;
  parked: number;
  dead: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toView(r: any): DeliveryView {
  return {
    id: r.id,
    event_id: r.event_id,
    clinic_id: r.clinic_id,
    webhook_id: r.subscriber_id,
    event_name: r.event_name,
    status: r.status,
    attempt_count: r.attempt_count,
    next_attempt_at: iso(r.next_attempt_at),
    last_status_code: r.last_status_code,
    last_error: r.last_error,
    created_at: r.created_at.toISOString(),
    delivered_at: iso(r.delivered_at),
    dead_at: iso(r.dead_at),
  };
}

/**
 * The cursor carries the last row's created_at at Postgres's full (microsecond) precision: a JS Date keeps
 * milliseconds only, and a truncated cursor skipped the rows created in the same millisecond.
 */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const encodeCursor = (createdAt: string, id: string) => Buffer.from(`${createdAt}|${id}`).toString('base64url');

/**
 * Whether Postgres will read the cursor's time (a forged one it refuses was a 500). V8's Date.parse takes
 * Feb 30 (as March 2) and year 0, both out of range for Postgres, so the calendar fields must come back
 * unchanged from a Date and the year be 1 or later.
 */
function isCursorTime(ts: string): boolean {
  if (!CURSOR_TIME.test(ts) || ts.startsWith('0000')) return false;
  const ms = Date.parse(ts);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === ts.slice(0, 19);
}

function decodeCursor(cursor: string): [string, string] | null {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!ts || !id || !isCursorTime(ts) || !UUID_PATTERN.test(id)) return null;
  return [ts, id];
}

export class InvalidCursorError extends Error {}

/** Conditions joined by AND, each with its value as the next numbered parameter (`?` marks its place). */
class Conditions {
  readonly sql: string[];
  readonly params: unknown[] = [];

  constructor(...fixed: string[]) {
    this.sql = fixed;
  }

  add(condition: string, ...values: unknown[]): void {
    let sql = condition;
    for (const value of values) {
      this.params.push(value);
      sql = sql.replace('?', `$${this.params.length}`);
    }
    this.sql.push(sql);
  }

  /** The next parameter's placeholder, for a value used outside the conditions (e.g. LIMIT). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  get where(): string {
    return this.sql.length ? `WHERE ${this.sql.join(' AND ')}` : '';
  }
}

/** Read side of deliveries for the admin API (every write is DeliveryRepository's). Newest first, keyset-paginated. */
export class DeliveryQueryRepository {
  constructor(private readonly ds: DataSource) {}

  async list(f: DeliveryFilter): Promise<{ items: DeliveryView[]; next_cursor: string | null }> {
    const c = new Conditions();
    if (f.clinicId) c.add('clinic_id = ?', f.clinicId);
    if (f.subscriberId) c.add('subscriber_id = ?', f.subscriberId);
    if (f.status) c.add('status = ?', f.status);
    if (f.eventName) c.add('event_name = ?', f.eventName);
    if (f.since) c.add('created_at >= ?', f.since);
    if (f.until) c.add('created_at < ?', f.until);
    if (f.cursor) {
      const cursor = decodeCursor(f.cursor);
      if (!cursor) throw new InvalidCursorError('cursor is not valid');
      c.add('(created_at, id) < (?::timestamptz, ?::uuid)', cursor[0], cursor[1]);
    }
    const limit = c.param(f.limit + 1);
    const rows = await this.ds.query(
      `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_time FROM deliveries ${c.where}
        ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
      c.params,
    );
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return { items: page.map(toView), next_cursor: rows.length > f.limit && last ? encodeCursor(last.cursor_time, last.id) : null };
  }

  async get(clinicId: string | null, id: string): Promise<(DeliveryView & { attempts: AttemptView[] }) | null> {
    const rows = await this.ds.query(
      `SELECT * FROM deliveries WHERE id = $1 ${clinicId ? 'AND clinic_id = $2' : ''}`,
      clinicId ? [id, clinicId] : [id],
    );
    if (rows.length === 0) return null;
    const attempts = await this.ds.query(
      `SELECT attempt, outcome, status_code, duration_ms, error, response_excerpt, started_at
         FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id`,
      [id],
    );
    return {
      ...toView(rows[0]),
      attempts: attempts.map((a: any) => ({ ...a, started_at: a.started_at.toISOString() })),
    };
  }

  /**
   * How many dead letters of one webhook of the clinic, dead-lettered in [since, until), a replay
   * (DeliveryRepository.replay with the same clinic, webhook and range) would queue: its dry run.
   */
  async countDeadLettersOf(clinicId: string, subscriberId: string, range: TimeRange): Promise<number> {
    const [row] = await this.ds.query(
      `SELECT count(*)::int AS n FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
        WHERE d.status = 'dead' AND d.clinic_id = $1 AND d.subscriber_id = $2 AND s.deleted_at IS NULL
          AND ($3::timestamptz IS NULL OR d.dead_at >= $3) AND ($4::timestamptz IS NULL OR d.dead_at < $4)`,
      [clinicId, subscriberId, range.since ?? null, range.until ?? null],
    );
    return row.n;
  }

  /**
   * Health of the clinic's webhooks (or one): attempts and successes in the last 24 h, the latest attempt
   * (of the most recently attempted delivery), and how many deliveries wait, are parked or dead now. A
   * delivery attempted in the last 24 h was updated then: both are read from
   * `deliveries_subscriber_status_updated_idx`, a range of `updated_at` per status (`$3`, every status), so a
   * page reads the last day's deliveries, not every one the webhook had.
   */
  async webhookHealth(clinicId: string, subscriberId?: string): Promise<WebhookHealth[]> {
    const rows = await this.ds.query(
      `SELECT s.id AS webhook_id, a.attempts, a.successes, la.started_at AS last_attempt_at, la.outcome AS last_outcome,
              la.status_code AS last_status_code, n.waiting, n.parked, n.dead
         FROM subscribers s
         CROSS JOIN LATERAL (
           SELECT coalesce(sum(t.n), 0)::int AS attempts, coalesce(sum(t.ok), 0)::int AS successes
             FROM deliveries d
             -- Counted per delivery (an aggregate is not flattened into a join): its attempts by delivery_attempts_delivery_idx,
             -- never a scan of every clinic's attempts.
             CROSS JOIN LATERAL (
               SELECT count(*) AS n, count(*) FILTER (WHERE t.outcome = 'success') AS ok
                 FROM delivery_attempts t WHERE t.delivery_id = d.id AND t.started_at > now() - interval '24 hours'
             ) t
            WHERE d.subscriber_id = s.id AND d.status = ANY($3::text[]) AND d.updated_at > now() - interval '24 hours'
         ) a
         CROSS JOIN LATERAL (
           SELECT count(*) FILTER (WHERE d.status IN ('pending', 'delivering'))::int AS waiting,
                  count(*) FILTER (WHERE d.status = 'parked')::int AS parked,
                  count(*) FILTER (WHERE d.status = 'dead')::int AS dead
             FROM deliveries d WHERE d.subscriber_id = s.id AND d.status IN ('pending', 'delivering', 'parked', 'dead')
         ) n
         LEFT JOIN LATERAL (
           SELECT t.started_at, t.outcome, t.status_code FROM delivery_attempts t
            WHERE t.delivery_id = (
                    SELECT l.id FROM unnest($3::text[]) AS st(status)
                     CROSS JOIN LATERAL (SELECT d.id, d.updated_at FROM deliveries d
                                          WHERE d.subscriber_id = s.id AND d.status = st.status AND d.attempt_count > 0
                                          ORDER BY d.updated_at DESC LIMIT 1) l
                     ORDER BY l.updated_at DESC LIMIT 1)
            ORDER BY t.id DESC LIMIT 1
         ) la ON true
        WHERE s.clinic_id = $1 AND s.deleted_at IS NULL AND ($2::uuid IS NULL OR s.id = $2)
        ORDER BY s.created_at`,
      [clinicId, subscriberId ?? null, DELIVERY_STATUSES],
    );
    return rows.map((r: any) => ({
      webhook_id: r.webhook_id,
      attempts_24h: r.attempts,
      successes_24h: r.successes,
      success_rate_24h: r.attempts > 0 ? r.successes / r.attempts : null,
      last_attempt: r.last_attempt_at ? { at: r.last_attempt_at.toISOString(), outcome: r.last_outcome, status_code: r.last_status_code } : null,
      waiting: r.waiting,
      parked: r.parked,
      dead: r.dead,
    }));
  }

  /**
   * The clinic's deliveries created in [since, until), counted per time bucket (`bucketSeconds` wide,
   * aligned on `since`) and per status now: for the console's chart of deliveries over time by outcome.
   * Buckets with no delivery are left out.
   */
  async timeline(clinicId: string, q: { since: Date; until: Date; bucketSeconds: number; subscriberId?: string }): Promise<Array<{ bucket: string; status: DeliveryStatus; count: number }>> {
    const rows = await this.ds.query(
      `SELECT date_bin(make_interval(secs => $4), created_at, $2::timestamptz) AS bucket, status, count(*)::int AS n
         FROM deliveries
        WHERE clinic_id = $1 AND created_at >= $2 AND created_at < $3 AND ($5::uuid IS NULL OR subscriber_id = $5)
        GROUP BY 1, 2 ORDER BY 1`,
      [clinicId, q.since, q.until, q.bucketSeconds, q.subscriberId ?? null],
    );
    return rows.map((r: any) => ({ bucket: r.bucket.toISOString(), status: r.status, count: r.n }));
  }
}
