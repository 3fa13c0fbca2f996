import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { RetentionRepository } from '@switchyard/persistence';
import { RetentionSweeper } from '@switchyard/retention';
import { TEST_DATABASE_URL, orphanAttempts, testDatabase } from '../support/database';

const HOUR = 3_600_000;

/**
 * What the retention sweep deletes and what it keeps, row by row, on the real Postgres: rows are written
 * with their ages, one sweep runs with windows of an hour (delivered) and three hours (dead), and every
 * row's fate is checked.
 */
describe('retention rules (RetentionSweeper on RetentionRepository)', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let sweeper: RetentionSweeper;
  const clinicId = randomUUID();
  const live = randomUUID();
  const live2 = randomUUID();
  const live3 = randomUUID();
  const deleted = randomUUID(); // deleted 4 h ago
  const deleted2 = randomUUID();
  const recentlyDeleted = randomUUID(); // deleted 1 min ago

  beforeAll(async () => {
    db = await testDatabase(__filename);
    sweeper = new RetentionSweeper(new RetentionRepository(db.ds), { deliveredMs: HOUR, deadMs: 3 * HOUR, auditMs: 24 * HOUR, batchSize: 2 });
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
    for (const [id, deletedAgo] of [[live, null], [live2, null], [live3, null], [deleted, 4 * HOUR], [deleted2, 4 * HOUR], [recentlyDeleted, 60_000]] as const) {
      await db.ds.query(
        `INSERT INTO subscribers (id, clinic_id, url, secret, deleted_at, enabled) VALUES ($1, $2, $5, 's', now() - make_interval(secs => $3::double precision / 1000), $4)`,
        [id, clinicId, deletedAgo, deletedAgo === null, `https://x.example/${id}`],
      );
    }
  });

  afterAll(() => db?.drop());

  /** An event received `ageMs` ago with deliveries in the given states (each finished `ageMs` ago), with two attempts each. */
  async function event(ageMs: number, deliveries: Array<[status: string, subscriber: string]>): Promise<{ event: string; deliveries: string[] }> {
    const id = randomUUID();
    await db.ds.query(
      `INSERT INTO events (id, clinic_id, event_name, payload, received_at) VALUES ($1, $2, 'x', '{}', now() - make_interval(secs => $3::double precision / 1000))`,
      [id, clinicId, ageMs],
    );
    const ids: string[] = [];
    for (const [status, subscriber] of deliveries) {
      const d = randomUUID();
      ids.push(d);
      await db.ds.query(
        `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, next_attempt_at, lease_until, delivered_at, dead_at, created_at)
         SELECT $1, $2, $3, $4, 'x', $5,
                CASE WHEN $5 = 'pending' THEN now() + interval '1 hour' END,
                CASE WHEN $5 = 'delivering' THEN now() + interval '1 minute' END,
                CASE WHEN $5 = 'succeeded' THEN t END, CASE WHEN $5 = 'dead' THEN t END, t
           FROM (SELECT now() - make_interval(secs => $6::double precision / 1000) AS t) AS at`,
        [d, id, clinicId, subscriber, status, ageMs],
      );
      await db.ds.query(`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, duration_ms, started_at) VALUES ($1, 1, 'x', 1, now()), ($1, 2, 'x', 1, now())`, [d]);
    }
    return { event: id, deliveries: ids };
  }

  const exists = async (table: string, id: string) => (await db.ds.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id])).length > 0;
  const attempts = async (deliveryId: string) => (await db.ds.query(`SELECT count(*)::int AS n FROM delivery_attempts WHERE delivery_id = $1`, [deliveryId]))[0].n;

  it('deletes what finished before its window (with attempts and emptied events) and keeps everything waiting', async () => {
    const oldDelivered = await event(2 * HOUR, [['succeeded', live], ['succeeded', live2]]);
    const newDelivered = await event(10 * 60_000, [['succeeded', live]]);
    const oldDead = await event(4 * HOUR, [['dead', live]]);
    const youngDead = await event(2 * HOUR, [['dead', live]]); // past the delivered window, within the dead one
    const waiting = await event(5 * HOUR, [['pending', live], ['delivering', live2], ['parked', live3]]);
    const mixed = await event(2 * HOUR, [['succeeded', live], ['pending', live2]]);
    const ofDeleted = await event(5 * HOUR, [['cancelled', deleted], ['parked', deleted2]]);
    const ofRecentlyDeleted = await event(5 * HOUR, [['pending', recentlyDeleted]]);
    const orphanOld = await event(2 * HOUR, []);
    const orphanNew = await event(60_000, []);

    const swept = await sweeper.sweep();
    expect(swept).toEqual(expect.objectContaining({ deliveries: 6, subscribers: 2 }));

    const fate = async (e: { event: string; deliveries: string[] }) => [await exists('events', e.event), ...(await Promise.all(e.deliveries.map((d) => exists('deliveries', d))))];
    expect({
      oldDelivered: await fate(oldDelivered),
      newDelivered: await fate(newDelivered),
      oldDead: await fate(oldDead),
      youngDead: await fate(youngDead),
      waiting: await fate(waiting),
      mixed: await fate(mixed),
      ofDeleted: await fate(ofDeleted),
      ofRecentlyDeleted: await fate(ofRecentlyDeleted),
      orphanOld: await fate(orphanOld),
      orphanNew: await fate(orphanNew),
    }).toEqual({
      oldDelivered: [false, false, false],
      newDelivered: [true, true],
      oldDead: [false, false],
      youngDead: [true, true],
      waiting: [true, true, true, true],
      mixed: [true, false, true],
      ofDeleted: [false, false, false],
      ofRecentlyDeleted: [true, true],
      orphanOld: [false],
      orphanNew: [true],
    });
    expect(await attempts(oldDelivered.deliveries[0]!)).toBe(0);
    expect(await attempts(waiting.deliveries[0]!)).toBe(2);
    expect(await orphanAttempts(db.ds)).toBe(0); // every attempt went with its delivery (no foreign key cascades it)
    expect(await exists('subscribers', deleted)).toBe(false); // deleted long ago, no delivery left
    expect(await exists('subscribers', deleted2)).toBe(false);
    expect(await exists('subscribers', recentlyDeleted)).toBe(true);
    expect(await exists('subscribers', live)).toBe(true);
    // a second sweep finds nothing more
    expect(await sweeper.sweep()).toEqual({ deliveries: 0, events: 0, subscribers: 0, auditEntries: 0, idempotencyKeys: 0, portalSessions: 0 });
  });

  it('deletes audit entries past their window and expired Idempotency-Key answers', async () => {
    await db.ds.query(
      `INSERT INTO audit_log (at, actor_kind, method, route, request_id, status) VALUES
         (now() - interval '2 days', 'operator', 'POST', '/x', 'old', 201), (now() - interval '1 hour', 'operator', 'POST', '/x', 'new', 201)`,
    );
    await db.ds.query(
      `INSERT INTO request_idempotency (scope, key, request_hash, state, locked_until, expires_at) VALUES
         ('operator', 'expired', 'h', 'done', now(), now() - interval '1 second'), ('operator', 'live', 'h', 'done', now(), now() + interval '1 hour')`,
    );
    expect(await sweeper.sweep()).toEqual(expect.objectContaining({ auditEntries: 1, idempotencyKeys: 1 }));
    expect((await db.ds.query(`SELECT request_id FROM audit_log`)).map((r: { request_id: string }) => r.request_id)).toEqual(['new']);
    expect((await db.ds.query(`SELECT key FROM request_idempotency`)).map((r: { key: string }) => r.key)).toEqual(['live']);
  });

  it('deletes console (portal) sessions that ended longer ago than the audit window, expired or revoked, and keeps the rest', async () => {
    const session = async (name: string, expiresAgo: string, revokedAgo: string | null) =>
      db.ds.query(
        `INSERT INTO portal_sessions (id, clinic_id, link_hash, expires_at, revoked_at, created_at)
         VALUES ($1, $2, $3, now() - $4::interval, now() - $5::interval, now() - interval '3 days')`,
        [randomUUID(), clinicId, name, expiresAgo, revokedAgo],
      );
    await session('expired-long-ago', '2 days', null);
    await session('revoked-long-ago', '-1 hour', '2 days'); // revoked 2 days ago, before it would have expired
    await session('expired-recently', '1 hour', null);
    await session('revoked-recently', '-1 hour', '1 hour');
    await session('live', '-1 hour', null);
    expect(await sweeper.sweep()).toEqual(expect.objectContaining({ portalSessions: 2 }));
    const left = (await db.ds.query(`SELECT link_hash FROM portal_sessions ORDER BY link_hash`)).map((r: { link_hash: string }) => r.link_hash);
    expect(left).toEqual(['expired-recently', 'live', 'revoked-recently']);
  });

  it('passes over rows another transaction holds instead of waiting for them, and takes them on a later sweep', async () => {
    const held = await event(2 * HOUR, [['succeeded', live]]);
    const free = await event(2 * HOUR, [['succeeded', live]]);
    const other = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${db.schema}` });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, [held.deliveries[0]]);
      // resolves while the lock is still held (were it waiting for the lock, it would wait for the COMMIT below: never)
      await sweeper.sweep();
      expect(await exists('deliveries', held.deliveries[0]!)).toBe(true);
      expect(await exists('deliveries', free.deliveries[0]!)).toBe(false);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    await sweeper.sweep();
    expect(await exists('deliveries', held.deliveries[0]!)).toBe(false);
    expect(await exists('events', held.event)).toBe(false);
  });
});
