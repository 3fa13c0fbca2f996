import { randomUUID } from 'node:crypto';
import { loadConfig } from '@switchyard/config';
import { ClinicRepository, DeliveryRepository, SubscriberRepository } from '@switchyard/persistence';
import { KeyRing } from '@switchyard/secrets';
import { testDatabase } from '../../../../test/support/database';
import type { ClinicCeilingsService } from '../limits/clinic-ceilings.service';
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
    service = new SubscriberRegistrationService(subscribers, {} as ClinicRepository, deliveries, {} as ClinicCeilingsService, config);
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
