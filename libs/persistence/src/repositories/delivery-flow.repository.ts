import { DataSource } from 'typeorm';
import { rawQuery } from '../raw-query';

export interface SlotKey {
  subscriberId: string;
  slot: number;
}

/** A slot whose lease a renewal extended; `retired`: it may carry no new request (see `renew`). */
export interface RenewedSlot extends SlotKey {
  retired: boolean;
}

export interface TokenGrant {
  granted: number;
  /** When the next token after these can be taken, in ms from now (0: already). */
  nextInMs: number;
  /** Time between tokens at the subscriber's rate, in ms. */
  intervalMs: number;
}

/**
 * The listed slots (`$2` subscribers, `$3` slots) that holder `$1` has, in (subscriber, slot) order: renewals
 * and releases lock them so before they write, in the grant's order. A renewal and a release of the same
 * process, each in the order its caller listed the slots, deadlocked twice in one bench run (bench/RESULTS.md,
 * nineteenth round).
 */
const HOLDERS_SLOTS_IN_ORDER = `SELECT x.subscriber_id, x.slot FROM delivery_slots x
   JOIN unnest($2::uuid[], $3::int[]) AS k(subscriber_id, slot) ON x.subscriber_id = k.subscriber_id AND x.slot = k.slot
  WHERE x.holder = $1 ORDER BY x.subscriber_id, x.slot`;

/** Every slot holder `$1` has, in the same order (a stopping process gives them all back). */
const ALL_HOLDERS_SLOTS_IN_ORDER = `SELECT x.subscriber_id, x.slot FROM delivery_slots x WHERE x.holder = $1 ORDER BY x.subscriber_id, x.slot`;

/** Deletes the slots `locking` selects (of holder `$1`), locked in its order first. */
const deleteInOrder = (locking: string) =>
  `WITH locked AS MATERIALIZED (${locking} FOR UPDATE OF x)
   DELETE FROM delivery_slots x USING locked k WHERE x.subscriber_id = k.subscriber_id AND x.slot = k.slot AND x.holder = $1`;

/**
 * Flow control shared by every fan-out replica, in Postgres:
 *
 * - **In-flight slots.** A subscriber with `max_in_flight` n has slots 0…n−1; a request may be open only
 *   on a slot its process holds. `delivery_slots`' primary key lets one holder have a slot at a time, so
 *   however many replicas run, at most n requests are open. A process takes slots under a lease, renews
 *   them while it uses them, and gives them back when idle; a crashed process's slots come free when the
 *   lease runs out. The caller never starts a request that could outlive its slot's lease.
 * - **Rate.** `rate_limit_per_second` is a GCRA bucket (`subscriber_rate_buckets.tat`, the theoretical
 *   arrival time) holding up to one second's worth of tokens (at least one): one atomic upsert grants a
 *   batch of tokens to whichever replica asks.
 *
 * Every statement writes its rows in subscriber order (then slot order: each statement's `ORDER BY`), whatever
 * order the caller's wants came in or the plan joins them in: two statements that meet on the same keys then
 * wait for each other instead of deadlocking. Two grants in opposite orders, each holding a key the other
 * wanted, made Postgres kill one after `deadlock_timeout` (1 s) in every bench run of 2026-12-02
 * (bench/RESULTS.md, eighteenth round).
 */
export class DeliveryFlowRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Takes up to `want` free slots of each subscriber for `holder` (free: never taken, or lease run out),
   * never beyond the subscriber's in-flight limit. Returns the slots granted; a slot another replica took
   * first is simply not granted (the primary key decides, whatever either side saw).
   */
  async acquire(holder: string, wants: Array<{ subscriberId: string; want: number }>, defaultMaxInFlight: number, leaseMs: number): Promise<SlotKey[]> {
    if (wants.length === 0) return [];
    const rows: Array<{ subscriber_id: string; slot: number }> = await rawQuery(
      this.ds,
      `WITH want AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS w(subscriber_id, n)),
       candidate AS (
         SELECT w.subscriber_id, g.slot FROM want w
           JOIN subscribers s ON s.id = w.subscriber_id AND s.enabled AND s.deleted_at IS NULL
          CROSS JOIN LATERAL (
            SELECT g AS slot FROM generate_series(0, COALESCE(s.max_in_flight, $4) - 1) g
             WHERE NOT EXISTS (SELECT 1 FROM delivery_slots x WHERE x.subscriber_id = w.subscriber_id AND x.slot = g AND x.lease_until > now())
             ORDER BY g LIMIT w.n) g
       )
       INSERT INTO delivery_slots AS ds (subscriber_id, slot, holder, lease_until)
       SELECT subscriber_id, slot, $3, now() + make_interval(secs => $5::double precision / 1000) FROM candidate
        ORDER BY subscriber_id, slot
       ON CONFLICT (subscriber_id, slot) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
        WHERE ds.lease_until <= now()
       RETURNING subscriber_id, slot`,
      [wants.map((w) => w.subscriberId), wants.map((w) => w.want), holder, defaultMaxInFlight, leaseMs],
    );
    return rows.map((r) => ({ subscriberId: r.subscriber_id, slot: r.slot }));
  }

  /**
   * Renews the leases of slots `holder` still has. Returns those renewed, each saying whether it may still
   * carry requests: a slot no longer below the subscriber's limit (lowered, the subscriber disabled or
   * deleted) is `retired`: renewed all the same, so that no other replica takes it while the request on it
   * finishes, then given back. A slot not among them was lost (its lease ran out and another replica may
   * have taken it): the request on it must stop.
   */
  async renew(holder: string, slots: SlotKey[], defaultMaxInFlight: number, leaseMs: number): Promise<RenewedSlot[]> {
    if (slots.length === 0) return [];
    const [rows]: [Array<{ subscriber_id: string; slot: number; usable: boolean }>] = await rawQuery(
      this.ds,
      `WITH locked AS MATERIALIZED (${HOLDERS_SLOTS_IN_ORDER} FOR NO KEY UPDATE OF x)
       UPDATE delivery_slots x SET lease_until = now() + make_interval(secs => $5::double precision / 1000)
         FROM locked k
        WHERE x.subscriber_id = k.subscriber_id AND x.slot = k.slot AND x.holder = $1 AND x.lease_until > now()
       RETURNING x.subscriber_id, x.slot,
                 EXISTS (SELECT 1 FROM subscribers s WHERE s.id = x.subscriber_id AND s.enabled AND s.deleted_at IS NULL
                            AND x.slot < COALESCE(s.max_in_flight, $4)) AS usable`,
      [holder, slots.map((s) => s.subscriberId), slots.map((s) => s.slot), defaultMaxInFlight, leaseMs],
    );
    return rows.map((r) => ({ subscriberId: r.subscriber_id, slot: r.slot, retired: !r.usable }));
  }

  /** Gives slots back (idle ones, or all of a stopping process: `slots` null). */
  async release(holder: string, slots: SlotKey[] | null): Promise<void> {
    if (slots === null) {
      await rawQuery(this.ds, deleteInOrder(ALL_HOLDERS_SLOTS_IN_ORDER), [holder]);
      return;
    }
    if (slots.length === 0) return;
    await rawQuery(this.ds, deleteInOrder(HOLDERS_SLOTS_IN_ORDER), [holder, slots.map((s) => s.subscriberId), slots.map((s) => s.slot)]);
  }

  /**
   * Takes up to `want` tokens from each subscriber's bucket at its `rate` (GCRA: a token may be taken at
   * time t while tat − t ≤ (capacity − 1) / rate; each one taken moves tat on by 1 / rate). One upsert per
   * batch; concurrent replicas serialise on the bucket row, each seeing the other's tat.
   */
  async takeTokens(wants: Array<{ subscriberId: string; want: number; rate: number }>): Promise<Map<string, TokenGrant>> {
    if (wants.length === 0) return new Map();
    // The clock is read once per bucket, after its row lock (the statement's now() would be older for a
    // request that waited on another replica's). Tokens available at t: floor(capacity − (max(tat, t) − t)·rate).
    const rows: Array<{ subscriber_id: string; granted: number; next_in_ms: number; rate: number }> = await rawQuery(
      this.ds,
      `INSERT INTO subscriber_rate_buckets AS b (subscriber_id, tat, requested, rate, granted)
       SELECT w.subscriber_id, clock_timestamp() + make_interval(secs => least(w.want, floor(greatest(1, w.rate))) / w.rate), w.want, w.rate,
              least(w.want, floor(greatest(1, w.rate)))::int
         FROM unnest($1::uuid[], $2::int[], $3::double precision[]) AS w(subscriber_id, want, rate)
        ORDER BY w.subscriber_id
       ON CONFLICT (subscriber_id) DO UPDATE SET (granted, tat, requested, rate) = (
         SELECT g.n, greatest(b.tat, c.t) + make_interval(secs => g.n / EXCLUDED.rate), EXCLUDED.requested, EXCLUDED.rate
           FROM (SELECT clock_timestamp() AS t) c
          CROSS JOIN LATERAL (
            SELECT greatest(0, least(EXCLUDED.requested,
                     floor(greatest(1, EXCLUDED.rate) - extract(epoch from greatest(b.tat, c.t) - c.t) * EXCLUDED.rate + 1e-9)))::int AS n
          ) g
       )
       RETURNING subscriber_id, granted, rate,
                 greatest(0, extract(epoch from tat - clock_timestamp()) * 1000 - (greatest(1, rate) - 1) * 1000 / rate)::double precision AS next_in_ms`,
      [wants.map((w) => w.subscriberId), wants.map((w) => w.want), wants.map((w) => w.rate)],
    );
    return new Map(rows.map((r) => [r.subscriber_id, { granted: r.granted, nextInMs: Math.ceil(r.next_in_ms), intervalMs: 1000 / r.rate }]));
  }
}
