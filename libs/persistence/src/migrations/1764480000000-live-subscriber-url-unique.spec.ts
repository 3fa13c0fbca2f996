import { randomUUID } from 'node:crypto';
import { testDatabase } from '../../../../test/support/database';
import { LIVE_SUBSCRIBER_URL_INDEX, LiveSubscriberUrlUnique1764480000000 } from './1764480000000-live-subscriber-url-unique';
import { MIGRATIONS } from './index';

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

  async function subscriber(
    clinicId: string,
    url: string,
    createdHoursAgo: number,
    o: { id?: string; deleted?: boolean; enabled?: boolean; eventTypes?: string[] } = {},
  ): Promise<string> {
    const id = o.id ?? randomUUID();
    await db.ds.query(
      `INSERT INTO subscribers (id, clinic_id, url, secret, created_at, deleted_at, enabled, event_types)
       VALUES ($1, $2, $3, 'whsec_x', now() - make_interval(hours => $4), CASE WHEN $5 THEN now() - interval '30 minutes' END, $6, $7)`,
      [id, clinicId, url, createdHoursAgo, o.deleted ?? false, !(o.deleted ?? false) && (o.enabled ?? true), o.eventTypes ?? ['*']],
    );
    return id;
  }

  async function event(clinicId: string): Promise<string> {
    const eventId = randomUUID();
    await db.ds.query(`INSERT INTO events (id, clinic_id, event_name, payload, received_at) VALUES ($1, $2, 'x', '{}', now())`, [eventId, clinicId]);
    return eventId;
  }

  /** A delivery of `eventId` (a new event if none) to the subscriber, in `status`. */
  async function deliveryOf(clinicId: string, subscriberId: string, status: string, eventId?: string): Promise<string> {
    const id = randomUUID();
    await db.ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, next_attempt_at, lease_until)
       VALUES ($1, $2, $3, $4, 'x', $5, CASE WHEN $5 = 'pending' THEN now() END, CASE WHEN $5 = 'delivering' THEN now() + interval '1 minute' END)`,
      [id, eventId ?? (await event(clinicId)), clinicId, subscriberId, status],
    );
    return id;
  }

  const liveOn = async (clinicId: string, url: string) =>
    (await db.ds.query(`SELECT id FROM subscribers WHERE clinic_id = $1 AND url = $2 AND deleted_at IS NULL ORDER BY id`, [clinicId, url])).map(
      (r: { id: string }) => r.id,
    );

  it('keeps the copy the receiver most likely knows, gives it what the others were owed, deletes them as the admin API does (audited), and builds a valid unique index', async () => {
    // 'none': TypeORM's undo wraps 'each' migration in a transaction whatever it asks, and CONCURRENTLY refuses one.
    // The migrations after this one first (each undone, then run again with it).
    const after = MIGRATIONS.slice(MIGRATIONS.indexOf(LiveSubscriberUrlUnique1764480000000) + 1).map((m) => m.name);
    expect(MIGRATIONS).toContain(LiveSubscriberUrlUnique1764480000000);
    for (let i = 0; i <= after.length; i++) await db.ds.undoLastMigration({ transaction: 'none' });
    expect(await index()).toEqual([]);

    const one = 'https://one.example/hook';
    const deletedLongAgo = await subscriber(clinicA, one, 6, { deleted: true }); // deleted: not a copy
    const older = await subscriber(clinicA, one, 4);
    const lastOk = await subscriber(clinicA, one, 3, { eventTypes: ['shipment:created'] }); // its deliveries succeed: kept
    const newer = await subscriber(clinicA, one, 2, { eventTypes: ['medication:updated'] });
    const disabledNewest = await subscriber(clinicA, one, 1, { enabled: false });
    const otherClinic = await subscriber(clinicB, one, 5);
    const alone = await subscriber(clinicA, 'https://two.example/hook', 3);
    await subscriber(clinicA, 'https://two.example/hook', 1, { deleted: true });
    // Without successes: the newest enabled copy is kept; created in the same instant, the lower id.
    const freshOld = await subscriber(clinicA, 'https://fresh.example/hook', 5, { eventTypes: ['shipment:created', 'shipment:cancelled'] });
    const freshNew = await subscriber(clinicA, 'https://fresh.example/hook', 1, { eventTypes: ['medication:updated'] });
    const tieKept = await subscriber(clinicA, 'https://tie.example/hook', 2, { id: '00000000-0000-4000-8000-00000000000a' });
    const tieDeleted = await subscriber(clinicA, 'https://tie.example/hook', 2, { id: '00000000-0000-4000-8000-00000000000b' });
    await db.ds.query(`UPDATE subscribers SET created_at = (SELECT created_at FROM subscribers WHERE id = $1) WHERE id = $2`, [tieKept, tieDeleted]);

    await deliveryOf(clinicA, lastOk, 'succeeded');
    const statuses = ['delivering', 'succeeded', 'dead'] as const;
    const settledOfNewer = Object.fromEntries(await Promise.all(statuses.map(async (st) => [st, await deliveryOf(clinicA, newer, st)])));
    // The newer copy's deliveries succeeded too, but an hour ago: the receiver has since accepted lastOk's.
    await db.ds.query(`UPDATE deliveries SET updated_at = now() - interval '1 hour' WHERE id = $1`, [settledOfNewer.succeeded]);
    // Owed only by a deleted copy: moves to the kept one. Owed by the kept one too: the copy's is cancelled.
    const onlyNewer = await deliveryOf(clinicA, newer, 'pending');
    const both = await event(clinicA);
    const keptOwn = await deliveryOf(clinicA, lastOk, 'pending', both);
    const newerToo = await deliveryOf(clinicA, newer, 'parked', both);
    // Owed by two deleted copies: one moves (the earlier), the other is cancelled.
    const twice = await event(clinicA);
    const olderOne = await deliveryOf(clinicA, older, 'pending', twice);
    const newerOne = await deliveryOf(clinicA, newer, 'pending', twice);
    await db.ds.query(`UPDATE deliveries SET created_at = created_at - interval '1 second' WHERE id = $1`, [olderOne]);

    // An earlier run's build failed on the duplicates and left an invalid index behind.
    await expect(
      db.ds.query(`CREATE UNIQUE INDEX CONCURRENTLY ${LIVE_SUBSCRIBER_URL_INDEX} ON subscribers (clinic_id, url) WHERE deleted_at IS NULL`),
    ).rejects.toThrow(/could not create unique index/);
    expect(await index()).toMatchObject([{ valid: false }]);

    expect((await db.ds.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual(['LiveSubscriberUrlUnique1764480000000', ...after]);

    expect(await liveOn(clinicA, one)).toEqual([lastOk]);
    expect(await liveOn(clinicB, one)).toEqual([otherClinic]);
    expect(await liveOn(clinicA, 'https://two.example/hook')).toEqual([alone]);
    expect(await liveOn(clinicA, 'https://fresh.example/hook')).toEqual([freshNew]);
    expect(await liveOn(clinicA, 'https://tie.example/hook')).toEqual([tieKept]);
    const deletedNow = [older, newer, disabledNewest, freshOld, tieDeleted];
    const rows = await db.ds.query(`SELECT id, enabled, deleted_at > now() - interval '1 minute' AS just_deleted FROM subscribers WHERE id = ANY($1)`, [
      [...deletedNow, deletedLongAgo],
    ]);
    const byId = Object.fromEntries(rows.map((r: { id: string }) => [r.id, r]));
    for (const id of deletedNow) expect(byId[id]).toMatchObject({ enabled: false, just_deleted: true });
    expect(byId[deletedLongAgo]).toMatchObject({ just_deleted: false }); // left as it was
    // The kept copy subscribes to what every copy did: '*' (the oldest's), or the union of what they named.
    const types = async (id: string) => (await db.ds.query(`SELECT event_types FROM subscribers WHERE id = $1`, [id]))[0].event_types;
    expect(await types(lastOk)).toEqual(['*']);
    expect(await types(freshNew)).toEqual(['medication:updated', 'shipment:cancelled', 'shipment:created']);
    expect(await types(tieKept)).toEqual(['*']); // nothing to add: not written

    const delivery = async (id: string) => (await db.ds.query(`SELECT status, subscriber_id FROM deliveries WHERE id = $1`, [id]))[0];
    expect(await delivery(onlyNewer)).toEqual({ status: 'pending', subscriber_id: lastOk });
    expect(await delivery(keptOwn)).toEqual({ status: 'pending', subscriber_id: lastOk });
    expect(await delivery(newerToo)).toEqual({ status: 'cancelled', subscriber_id: newer });
    expect(await delivery(olderOne)).toEqual({ status: 'pending', subscriber_id: lastOk });
    expect(await delivery(newerOne)).toEqual({ status: 'cancelled', subscriber_id: newer });
    // Deliveries under way or over are left to end as they would.
    for (const st of statuses) expect(await delivery(settledOfNewer[st])).toEqual({ status: st, subscriber_id: newer });

    const audit = await db.ds.query(
      `SELECT actor_kind, actor_id, clinic_id, method, route, target_id, fields, request_id, status, error_code FROM audit_log ORDER BY method, target_id`,
    );
    const entry = (method: string, fields: string[]) => (target: string) => ({
      actor_kind: 'operator',
      actor_id: null,
      clinic_id: clinicA,
      method,
      route: 'migration:LiveSubscriberUrlUnique1764480000000',
      target_id: target,
      fields,
      request_id: 'migration:LiveSubscriberUrlUnique1764480000000',
      status: 200,
      error_code: null,
    });
    expect(audit).toEqual([...[...deletedNow].sort().map(entry('DELETE', [])), ...[lastOk, freshNew].sort().map(entry('PATCH', ['event_types']))]);

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
