import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { loadConfig } from '@switchyard/config';
import { ClinicRepository, DeliveryFlowRepository, DeliveryRepository, SubscriberRepository } from '@switchyard/persistence';
import { KeyRing } from '@switchyard/secrets';
import { heldTransaction, inOppositeOrders, lockWaits, newSubscriber, testDatabase } from '../support/database';
import { eventually } from '../support/stack';

/**
 * Statements that change several deliveries at once lock them in id order, so two that meet on the same
 * rows wait for each other instead of deadlocking. In a backlog drain a lease renewal (every delivery this
 * process is attempting) met an attempt record (the attempts that just ended) in the opposite order twice in
 * a minute: Postgres killed one after `deadlock_timeout` (1 s), every statement behind them waited that long,
 * the fast path gave up on its wait and the rest of the drain went through the Postgres queue at a third of
 * the pace (bench/RESULTS.md, ninth round). The flow-control upserts (slot grants, token takes) write their
 * rows in subscriber order for the same reason: two grants in opposite orders deadlocked in every bench run of
 * 2026-12-02 (eighteenth round).
 */
describe('delivery statements lock rows in one order (real Postgres)', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let deliveries: DeliveryRepository;
  const clinicId = randomUUID();
  const subscriberId = randomUUID();
  const deadlocks: string[] = [];

  beforeAll(async () => {
    db = await testDatabase(__filename);
    const keys = KeyRing.fromConfig(loadConfig({}));
    deliveries = new DeliveryRepository(db.ds, keys);
    await new ClinicRepository(db.ds).createWithKey({ id: clinicId, name: 'lock order' }, { id: randomUUID(), keyHash: randomUUID(), hint: 'swy_…' });
    await new SubscriberRepository(db.ds, keys).create({ ...newSubscriber(clinicId, ['*'], 'https://lock-order.example.test/'), id: subscriberId });
    // The plans of a table with history (index lookups, joined in the input's order): a table of a dozen rows
    // is read whole and hashed, which locks its rows in the order they lie on disk whatever the statement.
    for (let batch = 0; batch < 4; batch++) {
      await deliveries.storeInbound(
        Array.from({ length: 5_000 }, () => ({
          event: { id: randomUUID(), clinicId, eventName: 'shipment:created', entityId: null, payload: '{}', receivedAt: new Date(), traceParent: null, streamSeq: null },
          deliveries: [{ id: randomUUID(), subscriberId, state: { kind: 'parked' as const } }],
        })),
        null,
      );
    }
    await db.ds.query('ANALYZE deliveries');
    // Every statement's failure is noted on its way back (the record path retries one by one and would hide it).
    const pool = (db.ds.driver as PostgresDriver).master as Pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    (pool as unknown as { query: unknown }).query = (...args: unknown[]) =>
      query(...args).catch((err: { code?: string; message: string }) => {
        if (err.code === '40P01') deadlocks.push(err.message);
        throw err;
      });
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** `n` deliveries stored `delivering` (their first attempts under way), ids ascending. */
  async function attempting(n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, () => randomUUID()).sort();
    await deliveries.storeInbound(
      ids.map((id, i) => ({
        event: { id: randomUUID(), clinicId, eventName: 'shipment:created', entityId: null, payload: '{}', receivedAt: new Date(), traceParent: null, streamSeq: i + 1 },
        deliveries: [{ id, subscriberId, state: { kind: 'attempting' as const, leaseMs: 60_000 } }],
      })),
      null,
    );
    return ids;
  }

  /** Holds one delivery's row lock in a transaction of its own until `commit` is called. */
  const holdRow = (id: string) => heldTransaction(db.schema, 'SELECT 1 FROM deliveries WHERE id = $1 FOR NO KEY UPDATE', [id]);

  /** Statements of this schema's connections waiting for a row lock. */
  const waiting = () => lockWaits(db.ds, 'deliveries');

  it('a lease renewal and an attempt record over the same deliveries, started in opposite orders, both finish', async () => {
    const ids = await attempting(12);
    // The middle row is locked elsewhere: the renewal stops there with the rows before it locked, the record
    // (its input in the opposite order) then comes to the rows the renewal holds or waits for.
    const held = await holdRow(ids[6]!);
    const before = await waiting();
    const renewed = deliveries.renewLeases(ids, 60_000);
    await eventually(async () => (await waiting()) >= before + 1);
    const recorded = Promise.all(
      [...ids].reverse().map((deliveryId) =>
        deliveries.recordAttempt({
          deliveryId,
          clinicId,
          attempt: 1,
          outcome: 'success',
          statusCode: 200,
          durationMs: 5,
          error: null,
          responseExcerpt: null,
          startedAt: new Date(),
          resolution: { kind: 'succeeded' },
        }),
      ),
    );
    await eventually(async () => (await waiting()) >= before + 2);
    await held.commit();
    await Promise.all([renewed, recorded]);

    expect(deadlocks).toEqual([]);
    const rows: Array<{ status: string; lease_until: Date | null; attempts: number }> = await db.ds.query(
      `SELECT d.status, d.lease_until, (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts
         FROM deliveries d WHERE d.id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(ids.length);
    expect(rows.every((r) => r.status === 'succeeded' && r.lease_until === null && r.attempts === 1)).toBe(true);
  });

  it('an expired-lease sweep skips rows another statement holds instead of waiting for them', async () => {
    const ids = await attempting(4);
    await db.ds.query(`UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE id = ANY($1::uuid[])`, [ids]);
    const held = await holdRow(ids[1]!);
    const before = await waiting();
    let swept: number | 'waited for the held row';
    let over = false;
    try {
      // The held row's owner (a renewal, a record) decides it; the sweep takes the others and comes back later.
      swept = await Promise.race([
        deliveries.releaseExpiredLeases().finally(() => (over = true)),
        eventually(async () => over || (await waiting()) > before).then(() => 'waited for the held row' as const),
      ]);
    } finally {
      await held.commit();
    }
    expect(swept).toBe(3);
    expect(await deliveries.releaseExpiredLeases()).toBe(1);
    expect(deadlocks).toEqual([]);
  });
  /**
   * Three subscribers among thousands, in id order (made once for the file): with that many, a statement joined
   * to `subscribers` looks each one up by its key in the order it was asked for (a few hundred are read whole
   * and hashed, in the order they lie on disk, whatever order the statement was given).
   */
  let many: Promise<[string, string, string]> | undefined;
  const threeOfMany = () =>
    (many ??= (async () => {
      const template = randomUUID();
      await new SubscriberRepository(db.ds, KeyRing.fromConfig(loadConfig({}))).create({ ...newSubscriber(clinicId, ['*'], 'https://many.example.test/'), id: template });
      const bulk: Array<{ id: string }> = await db.ds.query(
        `INSERT INTO subscribers (id, clinic_id, url, secret)
         SELECT gen_random_uuid(), clinic_id, 'https://many-' || n || '.example.test/', secret FROM subscribers, generate_series(1, 5000) n WHERE id = $1
         RETURNING id`,
        [template],
      );
      await db.ds.query('ANALYZE subscribers');
      return [bulk[7]!.id, bulk[2500]!.id, bulk[4990]!.id].sort() as [string, string, string];
    })());

  it('two slot grants that want the same subscribers in opposite orders both finish, each slot granted once', async () => {
    const flow = new DeliveryFlowRepository(db.ds);
    const [first, middle, last] = await threeOfMany();
    const granted = await inOppositeOrders(
      db,
      { sql: `INSERT INTO delivery_slots (subscriber_id, slot, holder, lease_until) VALUES ($1, 0, 'third', now() + interval '1 minute')`, params: [middle] },
      'INSERT INTO delivery_slots',
      (order) => {
        const ids = order === 'ascending' ? [first, middle, last] : [last, middle, first];
        return flow.acquire(order, ids.map((subscriberId) => ({ subscriberId, want: 1 })), 4, 60_000);
      },
    );

    expect(deadlocks).toEqual([]);
    // The first and last slots went to exactly one of the two; the middle one stays the third's.
    expect(granted.flat().map((k) => k.subscriberId).sort()).toEqual([first, last]);
    const rows: Array<{ subscriber_id: string; holder: string }> = await db.ds.query(`SELECT subscriber_id, holder FROM delivery_slots WHERE subscriber_id = ANY($1::uuid[])`, [
      [first, middle, last],
    ]);
    expect(rows).toHaveLength(3);
    expect(rows.find((r) => r.subscriber_id === middle)?.holder).toBe('third');
  });

  it("a slot renewal and a release of the same holder's slots in opposite orders both finish", async () => {
    const flow = new DeliveryFlowRepository(db.ds);
    const [first, middle, last] = await threeOfMany();
    const slots = [first, middle, last].map((subscriberId) => ({ subscriberId, slot: 1 }));
    // A process holding thousands of slots: the few a statement lists are then found by key, in the order listed.
    await db.ds.query(`INSERT INTO delivery_slots (subscriber_id, slot, holder, lease_until) SELECT id, 3, 'renewing', now() + interval '1 minute' FROM subscribers`);
    await db.ds.query('ANALYZE delivery_slots');
    await db.ds.query(
      `INSERT INTO delivery_slots (subscriber_id, slot, holder, lease_until) SELECT id, 1, 'renewing', now() + interval '1 minute' FROM unnest($1::uuid[]) id`,
      [[first, middle, last]],
    );
    // The process renews the slots it uses while it gives back those gone idle, each listed in its own order.
    await inOppositeOrders(
      db,
      { sql: `SELECT 1 FROM delivery_slots WHERE subscriber_id = $1 AND slot = 1 FOR UPDATE`, params: [middle] },
      'delivery_slots',
      (order) => (order === 'ascending' ? flow.renew('renewing', slots, 4, 60_000) : flow.release('renewing', [...slots].reverse()).then(() => [])),
    );

    expect(deadlocks).toEqual([]);
    // Whichever came first at each slot, the release took all three.
    expect(await db.ds.query(`SELECT 1 FROM delivery_slots WHERE holder = 'renewing' AND slot = 1`)).toEqual([]);
  });

  it('two token takes from the same buckets in opposite orders both finish, and the buckets count both', async () => {
    const flow = new DeliveryFlowRepository(db.ds);
    const [first, middle, last] = await threeOfMany();
    const grants = await inOppositeOrders(
      db,
      { sql: `INSERT INTO subscriber_rate_buckets (subscriber_id, tat, requested, rate, granted) VALUES ($1, now(), 1, 100, 1)`, params: [middle] },
      'INSERT INTO subscriber_rate_buckets',
      (order) => {
        const ids = order === 'ascending' ? [first, middle, last] : [last, middle, first];
        return flow.takeTokens(ids.map((subscriberId) => ({ subscriberId, want: 1, rate: 100 })));
      },
    );

    expect(deadlocks).toEqual([]);
    // At 100 tokens/s a bucket holds 100: each take got its token from every bucket.
    for (const g of grants) expect([first, middle, last].map((id) => g.get(id)?.granted)).toEqual([1, 1, 1]);
  });
});
