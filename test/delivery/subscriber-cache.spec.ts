import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig } from '@switchyard/config';
import { ClinicRepository, DeliveryRepository, PgListener, SubscriberCache, SubscriberRepository } from '@switchyard/persistence';
import { KeyRing } from '@switchyard/secrets';
import { TEST_DATABASE_URL, newSubscriber, testDatabase } from '../support/database';
import { eventually } from '../support/stack';


describe('SubscriberCache (real Postgres, LISTEN/NOTIFY)', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let repo: SubscriberRepository;
  let cache: SubscriberCache;
  let listener: PgListener;
  let loads = 0;
  const listening: boolean[] = [];
  const clinicId = randomUUID();
  const otherClinicId = randomUUID();

  const subscriber = (clinic: string, eventTypes: string[], url = 'https://example.test/hook') => newSubscriber(clinic, eventTypes, url);
  const urls = async (clinic = clinicId, event = 'shipment:created') => (await cache.findSubscribersFor(clinic, event)).targets.map((t) => t.url).sort();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    repo = new SubscriberRepository(db.ds, KeyRing.fromConfig(loadConfig({})));
    const clinics = new ClinicRepository(db.ds);
    for (const id of [clinicId, otherClinicId]) {
      await clinics.createWithKey({ id, name: `clinic ${id}` }, { id: randomUUID(), keyHash: randomUUID(), hint: 'swy_…' });
    }
    const counting = Object.create(repo) as SubscriberRepository;
    counting.findClinicSubscribers = (id: string) => {
      loads++;
      return repo.findClinicSubscribers(id);
    };
    listener = new PgListener({
      connect: () => new Client({ connectionString: TEST_DATABASE_URL, application_name: `cache-test-${db.schema}` }),
      retryMs: 1_000, // the "while down" window the second case needs; under a full suite 50 ms was sometimes shorter than its two lookups
    });
    listener.watch((l) => listening.push(l));
    cache = new SubscriberCache(counting, { listener, schema: db.schema, ttlMs: 60_000 });
    await listener.start();
  });
  afterAll(async () => {
    await listener?.stop();
    await db?.drop();
  });

  it('answers what findSubscribersFor answers, and reads a clinic once until it changes', async () => {
    await repo.create(subscriber(clinicId, ['*'], 'https://a.example.test/'));
    await repo.create(subscriber(clinicId, ['medication:updated'], 'https://b.example.test/'));
    await repo.create(subscriber(otherClinicId, ['*'], 'https://other.example.test/'));
    expect(cache.isListening).toBe(true);
    loads = 0;
    for (const event of ['shipment:created', 'medication:updated']) {
      const direct = (await repo.findSubscribersFor(clinicId, event)).targets.map((t) => t.url).sort();
      expect(await urls(clinicId, event)).toEqual(direct);
    }
    expect(await urls(clinicId, 'medication:updated')).toEqual(['https://a.example.test/', 'https://b.example.test/']);
    expect(loads).toBe(1);
  });

  it('hands every event the same target, and drops a rotated-out secret when its overlap ends without being told', async () => {
    const rotating = await repo.create(subscriber(otherClinicId, ['*'], 'https://rotating.example.test/'));
    const targetOf = async () => (await cache.findSubscribersFor(otherClinicId, 'shipment:created')).targets.find((t) => t.id === rotating.id)!;
    await eventually(async () => (await targetOf()) !== undefined);
    // One object for every event while nothing changes: the sender keys its parsed URL on it.
    expect(await targetOf()).toBe(await targetOf());

    await repo.rotateSecret(otherClinicId, rotating.id, 'whsec_dGhlIG5ldyBvbmU=', 1);
    await eventually(async () => (await targetOf()).secrets.length === 2);
    expect((await targetOf()).secrets).toEqual(['whsec_dGhlIG5ldyBvbmU=', 'whsec_test']);
    loads = 0;
    // No notification marks the end of the overlap: the cached target is rebuilt once it has passed.
    await eventually(async () => (await targetOf()).secrets.length === 1, 5_000);
    expect((await targetOf()).secrets).toEqual(['whsec_dGhlIG5ldyBvbmU=']);
    expect(loads).toBe(0);
  });

  it('forgets a clinic as soon as a change to its subscribers commits, and only that clinic', async () => {
    await urls(otherClinicId);
    const added = await repo.create(subscriber(clinicId, ['shipment:created'], 'https://c.example.test/'));
    await eventually(async () => (await urls()).includes('https://c.example.test/'));

    loads = 0;
    await urls(otherClinicId);
    expect(loads).toBe(0); // the other clinic's entry survived

    await repo.updateWithinCeilings(clinicId, added.id, () => ({ url: 'https://c2.example.test/' }));
    await eventually(async () => (await urls()).includes('https://c2.example.test/'));
    await new DeliveryRepository(db.ds, KeyRing.fromConfig(loadConfig({}))).deleteSubscriber(clinicId, added.id);
    await eventually(async () => !(await urls()).some((u) => u.startsWith('https://c2.')));
    // A change made with plain SQL, outside the repositories, is announced the same way.
    await db.ds.query(`UPDATE subscribers SET event_types = ARRAY['medication:updated'] WHERE url = 'https://a.example.test/'`);
    await eventually(async () => !(await urls()).includes('https://a.example.test/'));
  });

  it('reads Postgres for every lookup while its connection is down, and caches again once it is back', async () => {
    await db.ds.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`cache-test-${db.schema}`]);
    await eventually(async () => !cache.isListening);
    loads = 0;
    const changed = await repo.create(subscriber(clinicId, ['*'], 'https://while-down.example.test/'));
    expect(await urls()).toContain('https://while-down.example.test/');
    expect(loads).toBe(0); // straight to findSubscribersFor, nothing kept

    await eventually(async () => cache.isListening);
    expect(listening.slice(-2)).toEqual([false, true]);
    await repo.updateWithinCeilings(clinicId, changed.id, () => ({ url: 'https://back.example.test/' }));
    await eventually(async () => (await urls()).includes('https://back.example.test/'));
  });

  it("answers a subscriber whose secret cannot be read apart from the others, from memory and from Postgres alike, instead of throwing", async () => {
    const lost = await repo.create(subscriber(otherClinicId, ['*'], 'https://retired-key.example.test/'));
    // Encrypted under a key this deployment no longer holds (taken out of SECRETS_KEYS before re-encryption).
    await db.ds.query(`UPDATE subscribers SET secret = 'enc:v1:retired:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE id = $1`, [lost.id]);
    const unreadable = [{ id: lost.id, clinicId: otherClinicId, enabled: true, error: expect.stringMatching(/"retired".*SECRETS_KEYS/) }];
    const readable = (await repo.findSubscribersFor(otherClinicId, 'shipment:created')).targets.map((t) => t.url).sort();
    expect(readable).toContain('https://other.example.test/');
    expect(readable).not.toContain('https://retired-key.example.test/');
    await eventually(async () => (await cache.findSubscribersFor(otherClinicId, 'shipment:created')).unreadable.length === 1);
    expect(cache.isListening).toBe(true);
    for (const lookup of [cache, repo]) {
      const answer = await lookup.findSubscribersFor(otherClinicId, 'shipment:created');
      expect(answer.unreadable).toEqual(unreadable);
      expect(answer.targets.map((t) => t.url).sort()).toEqual(readable);
    }
  });
});
