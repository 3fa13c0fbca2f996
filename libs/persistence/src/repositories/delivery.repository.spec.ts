import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { testDatabase } from '../../../../test/support/database';
import { loadConfig } from '@switchyard/config';
import { KeyRing } from '@switchyard/secrets';
import { DeliveryRepository, StoredEvent } from './delivery.repository';

/** Integration: real Postgres (DATABASE_URL or the loopback default), a schema of its own. */

describe('DeliveryRepository.recordAttempt', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let ds: DataSource;
  let repo: DeliveryRepository;
  const clinicId = randomUUID();
  const subscriberId = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    ds = db.ds;
    repo = new DeliveryRepository(ds, KeyRing.fromConfig(loadConfig({})));
    await ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
    await ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret) VALUES ($1, $2, 'http://127.0.0.1:1/', 'whsec_x')`, [subscriberId, clinicId]);
  });

  afterAll(() => db?.drop());

  async function newDelivery(): Promise<string> {
    const eventId = randomUUID();
    const id = randomUUID();
    await ds.query(`INSERT INTO events (id, clinic_id, event_name, payload, received_at) VALUES ($1, $2, 'x', '{}', now())`, [eventId, clinicId]);
    await ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, lease_until) VALUES ($1, $2, $3, $4, 'x', 'delivering', now())`,
      [id, eventId, clinicId, subscriberId],
    );
    return id;
  }

  const attempt = (deliveryId: string, n = 1) => ({
    deliveryId,
    attempt: n,
    outcome: 'success' as const,
    statusCode: 200,
    durationMs: 3,
    error: null,
    responseExcerpt: null,
    startedAt: new Date(),
  });

  it('writes attempts that arrive together, each moving its own delivery on', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, newDelivery));
    const retried = ids[0]!;
    await Promise.all(
      ids.map((id) =>
        id === retried
          ? repo.recordAttempt({ ...attempt(id), outcome: 'http_error', statusCode: 500, error: 'HTTP 500', clinicId, resolution: { kind: 'retry', delayMs: 60_000 } })
          : repo.recordAttempt({ ...attempt(id), clinicId, resolution: { kind: 'succeeded' } }),
      ),
    );
    const rows: Array<{ id: string; status: string; attempt_count: number; due_in: number | null; attempts: number }> = await ds.query(
      `SELECT d.id, d.status, d.attempt_count, extract(epoch FROM d.next_attempt_at - now())::float AS due_in,
              (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts
         FROM deliveries d WHERE d.id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(30);
    for (const r of rows) {
      expect(r.attempts).toBe(1);
      expect(r.attempt_count).toBe(1);
      if (r.id === retried) {
        expect(r.status).toBe('pending');
        expect(r.due_in).toBeGreaterThan(50);
      } else {
        expect(r.status).toBe('succeeded');
        expect(r.due_in).toBeNull();
      }
    }
  });

  it('records nothing for an attempt whose delivery is gone (or another clinic\'s), and the rest of its batch lands', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, newDelivery));
    const missing = randomUUID();
    const [foreign] = await Promise.all([newDelivery()]);
    const results = await Promise.allSettled([
      ...[...ids, missing].map((id) => repo.recordAttempt({ ...attempt(id), clinicId, resolution: { kind: 'succeeded' } })),
      repo.recordAttempt({ ...attempt(foreign!), clinicId: randomUUID(), resolution: { kind: 'succeeded' } }),
    ]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM deliveries WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [ids]);
    expect(n).toBe(10);
    const [{ untouched }] = await ds.query(
      `SELECT count(*)::int AS untouched FROM deliveries d WHERE d.id = $1 AND d.status = 'delivering' AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id)`,
      [foreign],
    );
    expect(untouched).toBe(1);
  });

  it('a late record (its lease ran out meanwhile) moves on a delivery back to pending, never one another worker finished', async () => {
    // Each delivery was leased by a worker whose answer came after its lease ran out; since then the row was
    // released (pending), or taken and finished by another worker, or its subscriber deleted (cancelled).
    const cases = { released: 'pending', deliveredByAnother: 'succeeded', deadByAnother: 'dead', cancelled: 'cancelled' } as const;
    const ids = Object.fromEntries(
      await Promise.all(
        Object.entries(cases).map(async ([name, status]) => {
          const id = await newDelivery();
          await ds.query(`UPDATE deliveries SET status = $2, lease_until = NULL WHERE id = $1`, [id, status]);
          return [name, id] as const;
        }),
      ),
    ) as Record<keyof typeof cases, string>;
    await Promise.all([
      repo.recordAttempt({ ...attempt(ids.released), clinicId, resolution: { kind: 'succeeded' } }),
      repo.recordAttempt({ ...attempt(ids.deliveredByAnother), outcome: 'http_error', statusCode: 500, error: 'HTTP 500', clinicId, resolution: { kind: 'retry', delayMs: 1_000 } }),
      repo.recordAttempt({ ...attempt(ids.deadByAnother), clinicId, resolution: { kind: 'succeeded' } }),
      repo.recordAttempt({ ...attempt(ids.cancelled), outcome: 'http_error', statusCode: 500, error: 'HTTP 500', clinicId, resolution: { kind: 'retry', delayMs: 1_000 } }),
    ]);
    const rows: Array<{ id: string; status: string; attempts: number }> = await ds.query(
      `SELECT d.id, d.status, (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts FROM deliveries d WHERE d.id = ANY($1::uuid[])`,
      [Object.values(ids)],
    );
    const byName = Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, rows.find((r) => r.id === id)]));
    expect(byName).toEqual({
      released: { id: ids.released, status: 'succeeded', attempts: 1 },
      deliveredByAnother: { id: ids.deliveredByAnother, status: 'succeeded', attempts: 1 },
      deadByAnother: { id: ids.deadByAnother, status: 'dead', attempts: 1 },
      cancelled: { id: ids.cancelled, status: 'cancelled', attempts: 1 },
    });
  });
});

describe('DeliveryRepository: store, schedule and subscriber transitions', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let ds: DataSource;
  let repo: DeliveryRepository;
  const clinicA = randomUUID();
  const clinicB = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    ds = db.ds;
    repo = new DeliveryRepository(ds, KeyRing.fromConfig(loadConfig({})));
    await ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'a'), ($2, 'b')`, [clinicA, clinicB]);
  });
  afterAll(() => db?.drop());

  async function subscriber(clinicId: string, extra: { ordered?: boolean; maxInFlight?: number } = {}): Promise<string> {
    const id = randomUUID();
    await ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret, ordered, max_in_flight) VALUES ($1, $2, $5, 'whsec_x', $3, $4)`, [
      id,
      clinicId,
      extra.ordered ?? false,
      extra.maxInFlight ?? null,
      `http://127.0.0.1:1/${id}`, // one live subscriber per URL of a clinic
    ]);
    return id;
  }

  let seq = 1000;
  const event = (clinicId: string, entityId: string | null = null): StoredEvent => ({
    id: randomUUID(),
    clinicId,
    eventName: 'medication:updated',
    entityId,
    payload: '{}',
    receivedAt: new Date(),
    traceParent: null,
    streamSeq: ++seq,
  });
  const queued = (subscriberId: string) => ({ id: randomUUID(), subscriberId, state: { kind: 'queued' as const, delayMs: 0 } });
  const statuses = async (subscriberId: string) =>
    (await ds.query(`SELECT status FROM deliveries WHERE subscriber_id = $1 ORDER BY stream_seq`, [subscriberId])).map((r: any) => r.status);

  it('stores events, deliveries and first attempts of a batch in one statement, once', async () => {
    const s1 = await subscriber(clinicA);
    const s2 = await subscriber(clinicA);
    const e1 = event(clinicA);
    const e2 = event(clinicA);
    const done = randomUUID();
    const records = [
      {
        event: e1,
        deliveries: [
          {
            id: done,
            subscriberId: s1,
            state: {
              kind: 'attempted' as const,
              attempt: { deliveryId: done, attempt: 1, outcome: 'success' as const, statusCode: 200, durationMs: 4, error: null, responseExcerpt: 'ok', startedAt: new Date() },
              resolution: { kind: 'succeeded' as const },
            },
          },
          { id: randomUUID(), subscriberId: s2, state: { kind: 'attempting' as const, leaseMs: 60_000 } },
        ],
      },
      { event: e2, deliveries: [queued(s1), { id: randomUUID(), subscriberId: s2, state: { kind: 'parked' as const } }] },
    ];
    await expect(repo.storeInbound(records, null)).resolves.toEqual([true, true]);
    // A redelivered message: nothing new, whatever ids it carries this time.
    const again = records.map((r) => ({ ...r, deliveries: r.deliveries.map((d) => ({ ...d, id: randomUUID() })) }));
    await expect(repo.storeInbound(again, null)).resolves.toEqual([false, false]);

    expect(await statuses(s1)).toEqual(['succeeded', 'pending']);
    expect(await statuses(s2)).toEqual(['delivering', 'parked']);
    const [row] = await ds.query(`SELECT d.stream_seq, d.attempt_count, d.delivered_at IS NOT NULL AS delivered, (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts FROM deliveries d WHERE d.id = $1`, [done]);
    expect(row).toEqual({ stream_seq: String(e1.streamSeq), attempt_count: 1, delivered: true, attempts: 1 });
  });

  it('finds due subscribers with clinics taking turns, however many subscribers one clinic has waiting', async () => {
    const busy = await Promise.all(Array.from({ length: 5 }, () => subscriber(clinicA)));
    const quiet = await subscriber(clinicB);
    for (const s of busy) await repo.storeInbound([{ event: event(clinicA), deliveries: [queued(s)] }], null);
    await repo.storeInbound([{ event: event(clinicB), deliveries: [queued(quiet)] }], null);
    const { due } = await repo.findDue(10, 2);
    // Only two subscribers fit in this poll: clinic B's is one of them, though it waited least.
    expect(due.map((d) => d.clinicId).sort()).toEqual([clinicA, clinicB].sort());
  });

  it('counts a subscriber\'s due deliveries up to its in-flight limit and says whether more are due', async () => {
    const full = await subscriber(clinicB, { maxInFlight: 2 });
    const exact = await subscriber(clinicB, { maxInFlight: 2 });
    for (let i = 0; i < 3; i++) await repo.storeInbound([{ event: event(clinicB), deliveries: [queued(full)] }], null);
    for (let i = 0; i < 2; i++) await repo.storeInbound([{ event: event(clinicB), deliveries: [queued(exact)] }], null);
    const { due } = await repo.findDue(10, 100);
    const of = (id: string) => due.find((d) => d.subscriberId === id);
    expect([of(full)?.due, of(full)?.more]).toEqual([2, true]);
    expect([of(exact)?.due, of(exact)?.more]).toEqual([2, false]);
  });

  it('holds an ordered delivery until every earlier inbound message is stored (ack floor) and its entity\'s earlier one is finished', async () => {
    const s = await subscriber(clinicA, { ordered: true });
    const first = event(clinicA, 'order-1');
    const second = event(clinicA, 'order-1');
    const other = event(clinicA, 'order-2');
    await repo.storeInbound([second, first, other].map((e) => ({ event: e, deliveries: [queued(s)] })), null);
    const take = [{ subscriberId: s, take: 10, ordered: true }];

    // The floor says nothing is stored beyond `first - 2`: nothing may go (a message before `first` may still be on its way).
    expect(await repo.lease(take, first.streamSeq! - 2, 60_000)).toEqual([]);
    expect(await repo.lease(take, null, 60_000)).toEqual([]);
    // Everything before `first` stored: `first` goes, `second` waits for it, and `other` waits for the floor to pass `second`.
    const jobs = await repo.lease(take, first.streamSeq! - 1, 60_000);
    expect(jobs.map((j) => j.event.id)).toEqual([first.id]);
    const more = await repo.lease(take, other.streamSeq!, 60_000);
    expect(more.map((j) => j.event.id)).toEqual([other.id]);
    expect(await repo.lease(take, other.streamSeq!, 60_000)).toEqual([]);
    await repo.recordAttempt({ deliveryId: jobs[0]!.deliveryId, attempt: 1, outcome: 'success', statusCode: 200, durationMs: 1, error: null, responseExcerpt: null, startedAt: new Date(), clinicId: clinicA, resolution: { kind: 'succeeded' } });
    expect((await repo.lease(take, other.streamSeq!, 60_000)).map((j) => j.event.id)).toEqual([second.id]);
  });

  it('holds an ordered delivery behind an earlier one about its entity that was stored parked beside the enabled subscriber, until the reaper unparks it', async () => {
    // Fan-out stored `first` parked from a cached view of the subscriber taken before an enable committed;
    // `second`, about the same entity, came after and was queued. It used to go first, `first` after it once unparked.
    const s = await subscriber(clinicA, { ordered: true });
    const first = event(clinicA, 'order-parked');
    const second = event(clinicA, 'order-parked');
    await repo.storeInbound([{ event: first, deliveries: [{ id: randomUUID(), subscriberId: s, state: { kind: 'parked' as const } }] }], null);
    await repo.storeInbound([{ event: second, deliveries: [queued(s)] }], null);
    const take = [{ subscriberId: s, take: 10, ordered: true }];
    expect(await repo.lease(take, second.streamSeq!, 60_000)).toEqual([]);
    expect(await repo.unparkStranded()).toBeGreaterThanOrEqual(1);
    expect((await repo.lease(take, second.streamSeq!, 60_000)).map((j) => j.event.id)).toEqual([first.id]);
  });

  it('dead-letters the deliveries of a subscriber whose secret cannot be read, and leases the rest of the poll (any clinic\'s)', async () => {
    const healthy = await subscriber(clinicA);
    const unreadable = await subscriber(clinicB);
    // Encrypted under a key this deployment no longer holds (taken out of SECRETS_KEYS before re-encryption).
    await ds.query(`UPDATE subscribers SET secret = 'enc:v1:retired:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE id = $1`, [unreadable]);
    const ok = event(clinicA);
    const bad = event(clinicB);
    await repo.storeInbound([{ event: ok, deliveries: [queued(healthy)] }, { event: bad, deliveries: [queued(unreadable)] }], null);
    const reported: string[] = [];
    const take = [healthy, unreadable].map((subscriberId) => ({ subscriberId, take: 10, ordered: false }));
    const jobs = await repo.lease(take, null, 60_000, (dead) => reported.push(...dead.map((d) => d.subscriberId)));
    expect(jobs.map((j) => j.event.id)).toEqual([ok.id]);
    expect(reported).toEqual([unreadable]);
    const [row] = await ds.query(`SELECT status, last_error, lease_until FROM deliveries WHERE subscriber_id = $1`, [unreadable]);
    expect(row).toEqual({ status: 'dead', last_error: expect.stringMatching(/signing secret cannot be read: .*"retired".*SECRETS_KEYS/), lease_until: null });
  });

  it('disables, enables and deletes a subscriber with its waiting deliveries in one statement each, and never for another clinic', async () => {
    const s = await subscriber(clinicA);
    await repo.storeInbound([event(clinicA), event(clinicA)].map((e) => ({ event: e, deliveries: [queued(s)] })), null);
    await expect(repo.disableSubscriber(clinicB, s, 'no')).resolves.toBe(false);
    expect(await statuses(s)).toEqual(['pending', 'pending']);
    await expect(repo.disableSubscriber(clinicA, s, 'maintenance')).resolves.toBe(true);
    expect(await statuses(s)).toEqual(['parked', 'parked']);
    // A retry that finds its subscriber disabled is parked, not left pending.
    const leasedLater = randomUUID();
    await repo.storeInbound([{ event: event(clinicA), deliveries: [{ id: leasedLater, subscriberId: s, state: { kind: 'attempting', leaseMs: 60_000 } }] }], null);
    await repo.recordAttempt({ deliveryId: leasedLater, attempt: 1, outcome: 'http_error', statusCode: 500, durationMs: 1, error: 'HTTP 500', responseExcerpt: null, startedAt: new Date(), clinicId: clinicA, resolution: { kind: 'retry', delayMs: 1 } });
    expect(await statuses(s)).toEqual(['parked', 'parked', 'parked']);
    await expect(repo.enableSubscriber(clinicA, s, db.schema)).resolves.toBe(true);
    expect(await statuses(s)).toEqual(['pending', 'pending', 'pending']);
    const dueBefore = await repo.countDue();
    await expect(repo.deleteSubscriber(clinicA, s)).resolves.toBe(true);
    expect(await statuses(s)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(await repo.countDue()).toBe(dueBefore - 3);
    await expect(repo.deleteSubscriber(clinicA, s)).resolves.toBe(false);
  });

  it('replays dead letters of one clinic only, due at once with a fresh budget', async () => {
    const a = await subscriber(clinicA);
    const b = await subscriber(clinicB);
    for (const [clinic, s] of [[clinicA, a], [clinicB, b]] as const) {
      const id = randomUUID();
      await repo.storeInbound([{ event: event(clinic), deliveries: [{ id, subscriberId: s, state: { kind: 'attempting', leaseMs: 60_000 } }] }], null);
      await repo.recordAttempt({ deliveryId: id, attempt: 5, outcome: 'http_error', statusCode: 500, durationMs: 1, error: 'HTTP 500', responseExcerpt: null, startedAt: new Date(), clinicId: clinic, resolution: { kind: 'dead' } });
    }
    await expect(repo.replay({ clinicId: clinicA }, db.schema)).resolves.toBe(1);
    expect(await statuses(a)).toEqual(['pending']);
    expect(await statuses(b)).toEqual(['dead']);
    const [row] = await ds.query(`SELECT attempt_count, next_attempt_at <= now() AS due FROM deliveries WHERE subscriber_id = $1`, [a]);
    expect(row).toEqual({ attempt_count: 0, due: true });
  });
});
