import { randomUUID } from 'node:crypto';
import { loadConfig } from '@switchyard/config';
import { ClinicLimitsRepository, ClinicRepository, DeliveryRepository, SubscriberRepository } from '@switchyard/persistence';
import { KeyRing } from '@switchyard/secrets';
import { ApiError } from '@switchyard/web';
import { heldTransaction, lockWaits, newSubscriber, testDatabase, waitingOn } from '../../../../test/support/database';
import { eventually } from '../../../../test/support/eventually';
import { ClinicCeilingsService } from '../limits/clinic-ceilings.service';
import { SubscriberRegistrationService } from './subscriber-registration.service';

/** Integration: real Postgres, a schema of its own. */
describe('SubscriberRegistrationService.update enables what it is asked to', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let subscribers: SubscriberRepository;
  let deliveries: DeliveryRepository;
  let service: SubscriberRegistrationService;
  const clinicId = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    const config = loadConfig({});
    const keys = KeyRing.fromConfig(config);
    subscribers = new SubscriberRepository(db.ds, keys);
    deliveries = new DeliveryRepository(db.ds, keys);
    service = new SubscriberRegistrationService(subscribers, new ClinicRepository(db.ds), deliveries, new ClinicCeilingsService(new ClinicLimitsRepository(db.ds), config), config);
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
  });

  afterAll(() => db?.drop());

  it('even when the subscriber it read was enabled: a 410 may have disabled it since', async () => {
    const id = randomUUID();
    await db.ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret) VALUES ($1, $2, 'https://x.example/hook', 'whsec_x')`, [id, clinicId]);
    const read = (await subscribers.get(clinicId, id))!;
    expect(read.enabled).toBe(true);
    // Between the admin's read and its update, fan-out gets a 410 and disables the subscriber.
    expect(await deliveries.disableSubscriber(clinicId, id, 'answered 410 Gone')).toBe(true);

    const updated = await service.update(read, { enabled: true });
    expect(updated).toMatchObject({ enabled: true, disabledReason: null });
    expect(await subscribers.get(clinicId, id)).toMatchObject({ enabled: true, disabledReason: null });
  });
});

/**
 * Integration: real Postgres. A duplicate URL and a value above a ceiling are checked under the clinic's row
 * lock, the lock a create and a change of the clinic's ceilings take, in the transaction that writes.
 */
describe('SubscriberRegistrationService checks under the clinic lock what it writes', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let subscribers: SubscriberRepository;
  let ceilings: ClinicCeilingsService;
  let service: SubscriberRegistrationService;

  beforeAll(async () => {
    db = await testDatabase(__filename);
    const config = loadConfig({});
    const keys = KeyRing.fromConfig(config);
    subscribers = new SubscriberRepository(db.ds, keys);
    ceilings = new ClinicCeilingsService(new ClinicLimitsRepository(db.ds), config);
    service = new SubscriberRegistrationService(subscribers, new ClinicRepository(db.ds), new DeliveryRepository(db.ds, keys), ceilings, config);
  });

  afterAll(() => db?.drop());

  async function clinicWith(...hooks: Array<{ url: string; maxInFlight?: number }>) {
    const clinicId = randomUUID();
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
    const ids: string[] = [];
    for (const h of hooks) {
      const s = await subscribers.create({ ...newSubscriber(clinicId, ['*'], h.url), maxInFlight: h.maxInFlight ?? null, timeoutMs: 1_000 });
      ids.push(s.id);
    }
    return { clinicId, ids };
  }

  const liveOn = async (clinicId: string, url: string) =>
    (await db.ds.query(`SELECT id FROM subscribers WHERE clinic_id = $1 AND url = $2 AND deleted_at IS NULL`, [clinicId, url])).map((r: { id: string }) => r.id);

  /** Once `p` has settled, or a statement matching `pattern` waits for a lock (the lock it should take before its check). */
  async function settledOrWaiting(p: Promise<unknown>, pattern: string) {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    await eventually(async () => settled || (await lockWaits(db.ds, pattern)) >= 1);
  }

  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'written',
      (err: unknown) => (err instanceof ApiError ? { status: err.getStatus(), code: err.code, details: err.details } : err),
    );

  it.each([
    [
      'a create of the URL',
      `WITH c AS (SELECT id FROM clinics WHERE id = $1 FOR UPDATE) INSERT INTO subscribers (id, clinic_id, url, secret) SELECT $2, id, $3, 'whsec_x' FROM c`,
      () => randomUUID(),
    ],
    [
      'another PATCH to the URL',
      `WITH c AS (SELECT id FROM clinics WHERE id = $1 FOR UPDATE) UPDATE subscribers SET url = $3 FROM c WHERE subscribers.id = $2`,
      (other: string) => other,
    ],
  ])('refuses a PATCH to a URL that %s takes meanwhile (409), never two live webhooks on it', async (_, takingSql, takerOf) => {
    const url = 'https://taken.example/hook';
    const { clinicId, ids } = await clinicWith({ url: 'https://b.example/hook' }, { url: 'https://c.example/hook' });
    const [b, c] = ids as [string, string];
    const taker = takerOf(c);
    // The other request has checked the URL and written it, under the clinic's lock, and not committed yet.
    const taking = await heldTransaction(db.schema, takingSql, [clinicId, taker, url]);
    const patching = service.update((await subscribers.get(clinicId, b))!, { webhook_url: url });
    await settledOrWaiting(patching, 'FROM clinics');
    await taking.commit();

    expect(await outcome(patching)).toEqual({ status: 409, code: 'webhook_exists', details: { webhook_id: taker } });
    expect(await liveOn(clinicId, url)).toEqual([taker]);
  });

  it.each([
    ['a create', (clinicId: string, _other: string, url: string) => service.create(clinicId, { clinic_id: clinicId, webhook_url: url })],
    ['a PATCH', async (clinicId: string, other: string, url: string) => service.update((await subscribers.get(clinicId, other))!, { webhook_url: url })],
  ])('answers %s that a write past the clinic lock beats to the URL with the usual 409, from the unique index', async (_, writing) => {
    const url = 'https://raced.example/hook';
    const { clinicId, ids } = await clinicWith({ url: 'https://b.example/hook' }, { url: 'https://c.example/hook' });
    const [b, c] = ids as [string, string];
    // Something that does not take the clinic's lock (SQL, another tool) moves webhook c onto the URL, not committed
    // yet. (An insert would wait for the lock: its foreign key takes a share of the clinic's row. An update does not.)
    const taking = await heldTransaction(db.schema, `UPDATE subscribers SET url = $2 WHERE id = $1`, [c, url]);
    // The request's check under the lock passes (c's new URL is not committed); its write then waits on the index for it.
    const request = writing(clinicId, b, url);
    await eventually(async () => (await waitingOn(db.ds, taking.pid)) >= 1);
    await taking.commit();

    expect(await outcome(request)).toEqual({ status: 409, code: 'webhook_exists', details: { webhook_id: c } });
    expect(await liveOn(clinicId, url)).toEqual([c]);
  });

  it('never leaves a PATCHed max_in_flight above a ceiling an operator lowers meanwhile', async () => {
    const { clinicId, ids } = await clinicWith({ url: 'https://b.example/hook', maxInFlight: 3 });
    const [b] = ids as [string];
    await ceilings.update(clinicId, { max_in_flight: 100 });
    // Something else (fan-out's 410, say) holds the webhook's row: the PATCH has read the ceiling of 100 and
    // waits to write 50 while the operator lowers the ceiling to 5.
    const holding = await heldTransaction(db.schema, `SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE`, [b]);
    const patching = service.update((await subscribers.get(clinicId, b))!, { max_in_flight: 50 });
    await eventually(async () => (await lockWaits(db.ds, 'UPDATE .*subscribers')) >= 1);
    const lowering = ceilings.update(clinicId, { max_in_flight: 5 });
    await settledOrWaiting(lowering, 'FROM clinics');
    await holding.commit();
    await Promise.all([outcome(patching), lowering]);

    expect((await ceilings.view(clinicId)).limits.max_in_flight).toBe(5);
    expect((await subscribers.get(clinicId, b))!.maxInFlight).toBeLessThanOrEqual(5);
  });

  it('never creates a webhook above a ceiling an operator lowered after the create read it', async () => {
    const { clinicId } = await clinicWith();
    await ceilings.update(clinicId, { max_in_flight: 100 });
    // The operator's change commits just before the create's transaction: after the moment the create used to
    // read the ceilings it checked against, outside that transaction.
    const createWithinLimit = subscribers.createWithinLimit.bind(subscribers);
    const lowered = jest.spyOn(subscribers, 'createWithinLimit').mockImplementationOnce(async (...args) => {
      await ceilings.update(clinicId, { max_in_flight: 5 });
      return createWithinLimit(...args);
    });
    const creating = service.create(clinicId, { clinic_id: clinicId, webhook_url: 'https://new.example/hook', max_in_flight: 50 });
    const result = await outcome(creating);
    lowered.mockRestore();

    expect(result).toEqual({ status: 422, code: 'clinic_limit_exceeded', details: ["max_in_flight: 50 is above this clinic's ceiling of 5"] });
    expect(await liveOn(clinicId, 'https://new.example/hook')).toEqual([]);
  });
});
