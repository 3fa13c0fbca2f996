import { randomUUID } from 'node:crypto';
import { DeliveryQueryRepository } from '@switchyard/persistence';
import { testDatabase } from '../support/database';
import { plannedCall, rowsRead } from '../support/query-plan';

/**
 * The dead letters pages (`GET /admin/dead-letters`, every clinic's or one's, the operator console's Dead
 * letters view; a clinic's log filtered to `status=dead`) on a deliveries table that holds mostly delivered
 * rows, as it does: a page must read about the rows it shows, not every delivery. Before their indexes, the
 * page of every clinic read the whole table and sorted it; one clinic's walked all of that clinic's
 * deliveries newest first, passing over the delivered ones.
 */
describe('dead letters listing reads its page from an index', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  const clinic = randomUUID();
  const other = randomUUID();
  const subscriber = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    // 40,000 deliveries of two clinics' webhook over the last days: 10,000 dead letters (the oldest), the rest delivered.
    await db.ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, delivered_at, dead_at, created_at)
       SELECT gen_random_uuid(), gen_random_uuid(), CASE WHEN g % 2 = 0 THEN $1::uuid ELSE $2::uuid END, $3, 'shipment:created',
              CASE WHEN g <= 10000 THEN 'dead' ELSE 'succeeded' END,
              CASE WHEN g > 10000 THEN now() END, CASE WHEN g <= 10000 THEN now() END,
              now() - make_interval(secs => (40000 - g) * 10)
         FROM generate_series(1, 40000) g`,
      [clinic, other, subscriber],
    );
    await db.ds.query(`ANALYZE deliveries`);
  });
  afterAll(() => db?.drop());

  /** The statement the repository sends for `filter`, run under EXPLAIN ANALYZE; its page, and the plan. */
  async function planOf(filter: Parameters<DeliveryQueryRepository['list']>[0]) {
    const { answer: page, plan } = await plannedCall(db.ds, (ds) => new DeliveryQueryRepository(ds).list(filter));
    return { page, plan };
  }

  it.each([
    ['every clinic', null],
    ['one clinic', 'clinic'],
    ['one webhook', 'webhook'],
  ] as const)('%s: the first page and the next, newest first, reading about a page of rows', async (_what, scope) => {
    const clinicId = scope === 'clinic' ? clinic : null;
    const subscriberId = scope === 'webhook' ? subscriber : undefined;
    const first = await planOf({ clinicId, subscriberId, status: 'dead', limit: 20 });
    expect(first.page.items).toHaveLength(20);
    expect(first.page.items.every((d) => d.status === 'dead' && (!clinicId || d.clinic_id === clinicId))).toBe(true);
    const created = first.page.items.map((d) => d.created_at);
    expect([...created].sort().reverse()).toEqual(created);
    expect(rowsRead(first.plan)).toBeLessThan(100); // before: every dead letter (10,000), or 15,000 of one clinic's deliveries

    const next = await planOf({ clinicId, subscriberId, status: 'dead', limit: 20, cursor: first.page.next_cursor! });
    expect(next.page.items).toHaveLength(20);
    expect(next.page.items[0]!.created_at < created[19]!).toBe(true);
    expect(rowsRead(next.plan)).toBeLessThan(100);
  });
});
