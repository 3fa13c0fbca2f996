import { randomUUID } from 'node:crypto';
import { testDatabase } from '../../../../test/support/database';
import { LIVE_SUBSCRIBER_URL_INDEX } from './1764480000000-live-subscriber-url-unique';

/**
 * Integration: real Postgres, a schema of its own. The migration is undone, the schema seeded with what a
 * race before the clinic lock could leave (live rows sharing a clinic's URL) beside rows that must not count
 * (deleted ones, another clinic's), and an invalid index an interrupted build left; then migrated again.
 */
describe('migration 1764480000000: one live subscriber per URL per clinic', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  const clinicA = randomUUID();
  const clinicB = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    for (const id of [clinicA, clinicB]) await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [id]);
  });
  afterAll(() => db?.drop());

  const index = async () =>
    db.ds.query(
      `SELECT i.indisvalid AS valid, i.indisunique AS unique, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
      [LIVE_SUBSCRIBER_URL_INDEX],
    );

  async function subscriber(clinicId: string, url: string, createdHoursAgo: number, o: { id?: string; deleted?: boolean } = {}): Promise<string> {
    const id = o.id ?? randomUUID();
    await db.ds.query(
      `INSERT INTO subscribers (id, clinic_id, url, secret, created_at, deleted_at, enabled)
       VALUES ($1, $2, $3, 'whsec_x', now() - make_interval(hours => $4), CASE WHEN $5 THEN now() - interval '30 minutes' END, NOT $5)`,
      [id, clinicId, url, createdHoursAgo, o.deleted ?? false],
    );
    return id;
  }

  async function deliveryOf(clinicId: string, subscriberId: string, status: string): Promise<string> {
    const eventId = randomUUID();
    const id = randomUUID();
    await db.ds.query(`INSERT INTO events (id, clinic_id, event_name, payload, received_at) VALUES ($1, $2, 'x', '{}', now())`, [eventId, clinicId]);
    await db.ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, next_attempt_at, lease_until)
       VALUES ($1, $2, $3, $4, 'x', $5, CASE WHEN $5 = 'pending' THEN now() END, CASE WHEN $5 = 'delivering' THEN now() + interval '1 minute' END)`,
      [id, eventId, clinicId, subscriberId, status],
    );
    return id;
  }

  const liveOn = async (clinicId: string, url: string) =>
    (await db.ds.query(`SELECT id FROM subscribers WHERE clinic_id = $1 AND url = $2 AND deleted_at IS NULL ORDER BY id`, [clinicId, url])).map(
      (r: { id: string }) => r.id,
    );

  it('keeps the oldest live row per clinic and URL, deletes the others as the admin API does (audited), and builds a valid unique index', async () => {
    // 'none': TypeORM's undo wraps 'each' migration in a transaction whatever it asks, and CONCURRENTLY refuses one.
    await db.ds.undoLastMigration({ transaction: 'none' });
    expect(await index()).toEqual([]);

    const one = 'https://one.example/hook';
    const deletedLongAgo = await subscriber(clinicA, one, 4, { deleted: true }); // older, but deleted: not the one kept
    const kept = await subscriber(clinicA, one, 3);
    const second = await subscriber(clinicA, one, 2);
    const third = await subscriber(clinicA, one, 1);
    const otherClinic = await subscriber(clinicB, one, 5);
    const alone = await subscriber(clinicA, 'https://two.example/hook', 3);
    await subscriber(clinicA, 'https://two.example/hook', 1, { deleted: true });
    // Created in the same instant (one statement of a race): the lower id is kept.
    const tieKept = await subscriber(clinicA, 'https://tie.example/hook', 2, { id: '00000000-0000-4000-8000-00000000000a' });
    const tieDeleted = await subscriber(clinicA, 'https://tie.example/hook', 2, { id: '00000000-0000-4000-8000-00000000000b' });
    await db.ds.query(`UPDATE subscribers SET created_at = (SELECT created_at FROM subscribers WHERE id = $1) WHERE id = $2`, [tieKept, tieDeleted]);
    const statuses = ['pending', 'parked', 'delivering', 'succeeded', 'dead'] as const;
    const ofSecond = Object.fromEntries(await Promise.all(statuses.map(async (s) => [s, await deliveryOf(clinicA, second, s)])));
    const ofKept = await deliveryOf(clinicA, kept, 'pending');

    // An earlier run's build failed on the duplicates and left an invalid index behind.
    await expect(
      db.ds.query(`CREATE UNIQUE INDEX CONCURRENTLY ${LIVE_SUBSCRIBER_URL_INDEX} ON subscribers (clinic_id, url) WHERE deleted_at IS NULL`),
    ).rejects.toThrow(/could not create unique index/);
    expect(await index()).toMatchObject([{ valid: false }]);

    expect((await db.ds.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual(['LiveSubscriberUrlUnique1764480000000']);

    expect(await liveOn(clinicA, one)).toEqual([kept]);
    expect(await liveOn(clinicB, one)).toEqual([otherClinic]);
    expect(await liveOn(clinicA, 'https://two.example/hook')).toEqual([alone]);
    expect(await liveOn(clinicA, 'https://tie.example/hook')).toEqual([tieKept]);
    const rows = await db.ds.query(`SELECT id, enabled, deleted_at > now() - interval '1 minute' AS just_deleted FROM subscribers WHERE id = ANY($1)`, [
      [second, third, tieDeleted, deletedLongAgo],
    ]);
    const byId = Object.fromEntries(rows.map((r: { id: string }) => [r.id, r]));
    for (const id of [second, third, tieDeleted]) expect(byId[id]).toMatchObject({ enabled: false, just_deleted: true });
    expect(byId[deletedLongAgo]).toMatchObject({ just_deleted: false }); // left as it was

    // As DELETE /api/external/webhook/:id: waiting and parked deliveries cancelled, the rest left to end as they would.
    const status = async (id: string) => (await db.ds.query(`SELECT status FROM deliveries WHERE id = $1`, [id]))[0].status;
    expect(Object.fromEntries(await Promise.all(statuses.map(async (s) => [s, await status(ofSecond[s])])))).toEqual({
      pending: 'cancelled',
      parked: 'cancelled',
      delivering: 'delivering',
      succeeded: 'succeeded',
      dead: 'dead',
    });
    expect(await status(ofKept)).toBe('pending');

    const audit = await db.ds.query(
      `SELECT actor_kind, actor_id, clinic_id, method, route, target_id, request_id, status, error_code FROM audit_log ORDER BY target_id`,
    );
    const entry = (target: string) => ({
      actor_kind: 'operator',
      actor_id: null,
      clinic_id: clinicA,
      method: 'DELETE',
      route: 'migration:LiveSubscriberUrlUnique1764480000000',
      target_id: target,
      request_id: 'migration:LiveSubscriberUrlUnique1764480000000',
      status: 200,
      error_code: null,
    });
    expect(audit).toEqual([second, third, tieDeleted].sort().map(entry));

    const [built] = await index();
    expect(built).toMatchObject({ valid: true, unique: true });
    expect(built.def).toMatch(/UNIQUE INDEX subscribers_live_url_idx ON \S+ USING btree \(clinic_id, url\) WHERE \(deleted_at IS NULL\)/);
  });

  it('refuses a second live row on a URL of a clinic, even written in SQL; a deleted one and another clinic\'s are allowed', async () => {
    const url = 'https://direct.example/hook';
    await subscriber(clinicA, url, 1);
    await expect(subscriber(clinicA, url, 0)).rejects.toMatchObject({ code: '23505', constraint: LIVE_SUBSCRIBER_URL_INDEX });
    await subscriber(clinicA, url, 0, { deleted: true });
    await subscriber(clinicB, url, 0);
    const live = await subscriber(clinicA, 'https://elsewhere.example/hook', 0);
    // Moving a live row onto the URL, or bringing a deleted one back to life on it, is refused the same way.
    await expect(db.ds.query(`UPDATE subscribers SET url = $2 WHERE id = $1`, [live, url])).rejects.toMatchObject({ code: '23505' });
    await expect(db.ds.query(`UPDATE subscribers SET deleted_at = NULL WHERE clinic_id = $1 AND url = $2`, [clinicA, url])).rejects.toMatchObject({ code: '23505' });
    expect(await liveOn(clinicA, url)).toHaveLength(1);
  });
});
