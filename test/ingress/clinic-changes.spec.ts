import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig } from '@switchyard/config';
import { ApiKeyRepository, ClinicChanges, ClinicLimitsRepository, ClinicRepository, PgListener } from '@switchyard/persistence';
import { ClinicAuthenticator, generateApiKey, hashApiKey, keyHint } from '@switchyard/tenancy';
import { ClinicIngressRates } from '../../apps/ingress/src/webhooks/clinic-ingress-rates';
import { TEST_DATABASE_URL, testDatabase } from '../support/database';
import { eventually } from '../support/stack';
import { TcpProxy } from '../reliability/support/tcp-proxy';

const PEPPER = 'test-pepper-0123456789';
/** AUTH_CACHE_TTL: what a lookup may be kept for while changes go unheard. */
const TTL_MS = 300;
/** AUTH_CACHE_MAX_AGE: far longer than any case here, so only a notification makes a change show. */
const MAX_AGE_MS = 600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ingress caches of key owners and ingress limits (real Postgres, LISTEN/NOTIFY)', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let keys: ApiKeyRepository;
  let clinics: ClinicRepository;
  let limits: ClinicLimitsRepository;
  let listener: PgListener;
  let changes: ClinicChanges;
  let auth: ClinicAuthenticator;
  let rates: ClinicIngressRates;
  let ownerLookups: jest.SpyInstance;
  let limitLookups: jest.SpyInstance;
  const defaults = loadConfig({ INGRESS_RATE_LIMIT: '50' });
  /** The clinics of the changes heard so far. */
  const heard: string[] = [];

  const newKey = () => {
    const apiKey = generateApiKey();
    return { apiKey, row: { id: randomUUID(), keyHash: hashApiKey(apiKey, PEPPER), hint: keyHint(apiKey) } };
  };
  const newClinic = async () => {
    const { apiKey, row } = newKey();
    const id = randomUUID();
    await clinics.createWithKey({ id, name: `clinic ${id}` }, row);
    // Its own notification would forget what a case looks up next (and every unknown key).
    await eventually(() => heard.includes(id), 1_000, 'the new clinic to be announced');
    return { id, apiKey, keyId: row.id };
  };
  /** How long until `check` holds, failing after a second: a change must show at commit, not after a TTL. */
  const msUntil = async (check: () => Promise<boolean>, what: string) => {
    const started = Date.now();
    await eventually(check, 1_000, what);
    return Date.now() - started;
  };
  const accepted = async (apiKey: string) => (await auth.authenticate(apiKey)) !== null;
  const listenerOn = (name: string, retryMs = 2_000) =>
    new PgListener({ connect: () => new Client({ connectionString: TEST_DATABASE_URL, application_name: name }), retryMs });

  beforeAll(async () => {
    db = await testDatabase(__filename);
    keys = new ApiKeyRepository(db.ds);
    clinics = new ClinicRepository(db.ds);
    limits = new ClinicLimitsRepository(db.ds);
    ownerLookups = jest.spyOn(keys, 'findOwner');
    limitLookups = jest.spyOn(limits, 'overrides');
    // Long enough a "while down" window for the case that needs it.
    listener = listenerOn(`auth-cache-test-${db.schema}`);
    changes = new ClinicChanges({ listener, schema: db.schema, ttlMs: TTL_MS, maxAgeMs: MAX_AGE_MS });
    auth = new ClinicAuthenticator(keys, PEPPER, changes);
    rates = new ClinicIngressRates(limits, defaults, changes);
    changes.onChange((clinicId) => heard.push(clinicId));
    await listener.start();
  });
  afterAll(async () => {
    await listener?.stop();
    await db?.drop();
  });
  beforeEach(() => {
    ownerLookups.mockClear();
    limitLookups.mockClear();
  });

  it('answers a repeated lookup from memory while listening, also after AUTH_CACHE_TTL', async () => {
    expect(changes.isListening).toBe(true);
    const clinic = await newClinic();
    expect(await auth.authenticate(clinic.apiKey)).toEqual({ clinicId: clinic.id, keyId: clinic.keyId });
    expect((await rates.rateOf(clinic.id)).ratePerSecond).toBe(50);
    await sleep(TTL_MS + 100);
    expect(await auth.authenticate(clinic.apiKey)).toEqual({ clinicId: clinic.id, keyId: clinic.keyId });
    expect((await rates.rateOf(clinic.id)).ratePerSecond).toBe(50);
    expect(ownerLookups).toHaveBeenCalledTimes(1);
    expect(limitLookups).toHaveBeenCalledTimes(1);
  });

  it("refuses a revoked key as soon as the revocation commits, and keeps other clinics' answers", async () => {
    const [revoked, other] = [await newClinic(), await newClinic()];
    for (const c of [revoked, other]) expect(await accepted(c.apiKey)).toBe(true);
    expect(await keys.revoke(revoked.id, revoked.keyId)).toBe(true);
    expect(await msUntil(async () => !(await accepted(revoked.apiKey)), 'the revoked key to be refused')).toBeLessThan(1_000);
    ownerLookups.mockClear();
    expect(await accepted(other.apiKey)).toBe(true);
    expect(ownerLookups).not.toHaveBeenCalled();
  });

  it('refuses the keys of a disabled clinic at once, and accepts them again once it is enabled', async () => {
    const clinic = await newClinic();
    const second = newKey();
    await keys.issue(clinic.id, second.row, 3_600);
    for (const k of [clinic.apiKey, second.apiKey]) expect(await accepted(k)).toBe(true);
    await clinics.setEnabled(clinic.id, false);
    await msUntil(async () => !(await accepted(clinic.apiKey)) && !(await accepted(second.apiKey)), 'both keys to be refused');
    // An operator's plain SQL is announced the same way.
    await db.ds.query(`UPDATE clinics SET enabled = true WHERE id = $1`, [clinic.id]);
    await msUntil(async () => (await accepted(clinic.apiKey)) && (await accepted(second.apiKey)), 'both keys to be accepted');
  });

  it('accepts a key as soon as it is created, though it was refused as unknown just before', async () => {
    const clinic = await newClinic();
    const next = newKey();
    expect(await accepted(next.apiKey)).toBe(false);
    expect(await accepted(next.apiKey)).toBe(false);
    expect(ownerLookups).toHaveBeenCalledTimes(1); // the unknown key's answer is kept too
    await keys.issue(clinic.id, next.row, 3_600);
    await msUntil(() => accepted(next.apiKey), 'the new key to be accepted');
  });

  it("refuses a rotated key when its grace ends, from the cached answer's expiry", async () => {
    const clinic = await newClinic();
    expect(await accepted(clinic.apiKey)).toBe(true);
    await keys.issue(clinic.id, newKey().row, 1);
    await sleep(200); // the issue's notification has forgotten the clinic
    expect(await accepted(clinic.apiKey)).toBe(true); // within the grace, read again with its expiry
    ownerLookups.mockClear();
    await sleep(1_000);
    expect(await accepted(clinic.apiKey)).toBe(false);
    expect(ownerLookups).not.toHaveBeenCalled();
  });

  it("applies a changed ingress limit as soon as it commits, and only to that clinic's entry", async () => {
    const [clinic, other] = [await newClinic(), await newClinic()];
    expect(await rates.rateOf(clinic.id)).toEqual({ ratePerSecond: 50, burst: 50 });
    await rates.rateOf(other.id);
    await limits.setOverrides(clinic.id, { ingressRatePerSecond: 2, ingressBurst: 3 });
    await msUntil(async () => (await rates.rateOf(clinic.id)).ratePerSecond === 2, 'the override to apply');
    expect(await rates.rateOf(clinic.id)).toEqual({ ratePerSecond: 2, burst: 3 });
    limitLookups.mockClear();
    await rates.rateOf(other.id);
    expect(limitLookups).not.toHaveBeenCalled();
    // A TRUNCATE names no clinic: every entry goes.
    await db.ds.query(`TRUNCATE clinic_limits`);
    await msUntil(async () => (await rates.rateOf(clinic.id)).ratePerSecond === 50, 'the defaults to apply again');
  });

  it('keeps answers for AUTH_CACHE_TTL only while its connection is down, and starts over once it is back', async () => {
    const clinic = await newClinic();
    expect(await accepted(clinic.apiKey)).toBe(true);
    await rates.rateOf(clinic.id);
    await db.ds.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`auth-cache-test-${db.schema}`]);
    await eventually(async () => !changes.isListening, 1_000, 'the listener to notice');
    ownerLookups.mockClear();
    limitLookups.mockClear();
    await sleep(TTL_MS); // what was loaded while listening counts as old as it is
    expect(await accepted(clinic.apiKey)).toBe(true);
    expect(await accepted(clinic.apiKey)).toBe(true);
    await rates.rateOf(clinic.id);
    expect(ownerLookups).toHaveBeenCalledTimes(1);
    expect(limitLookups).toHaveBeenCalledTimes(1);
    await keys.revoke(clinic.id, clinic.keyId); // unheard: refused once the TTL has passed
    const refusedAfter = await msUntil(async () => !(await accepted(clinic.apiKey)), 'the revoked key to be refused after the TTL');
    expect(refusedAfter).toBeGreaterThan(TTL_MS / 2);
    expect(ownerLookups).toHaveBeenCalledTimes(2);

    await eventually(async () => changes.isListening, 5_000, 'the listener to come back');
    ownerLookups.mockClear();
    await accepted(clinic.apiKey); // the negative answer went when listening started again
    await accepted(clinic.apiKey);
    expect(ownerLookups).toHaveBeenCalledTimes(1);
  });

  it('notices a listening connection gone silent: a key revoked meanwhile is refused after AUTH_CACHE_TTL, not AUTH_CACHE_MAX_AGE', async () => {
    // The listening connection behind a proxy that holds every byte of its open connections (a failover's old
    // primary gone without closing them) while new ones get through; lookups go straight to Postgres. Nothing
    // is emitted on a silent connection: the listener used to believe it listened, and the revoked key's owner
    // stayed cached for AUTH_CACHE_MAX_AGE.
    const pg = new URL(TEST_DATABASE_URL);
    const proxy = await new TcpProxy(pg.hostname, Number(pg.port || 5432)).start();
    const deafened = new PgListener({
      connect: () => new Client({ connectionString: proxy.urlTo(TEST_DATABASE_URL), application_name: `auth-cache-silent-${db.schema}` }),
      retryMs: 100,
      probeIntervalMs: 100,
      probeTimeoutMs: 1_000,
    });
    const silentChanges = new ClinicChanges({ listener: deafened, schema: db.schema, ttlMs: TTL_MS, maxAgeMs: MAX_AGE_MS });
    const silentAuth = new ClinicAuthenticator(keys, PEPPER, silentChanges);
    const heardHere: string[] = [];
    silentChanges.onChange((clinicId) => heardHere.push(clinicId));
    const told: boolean[] = [];
    deafened.watch((listening) => told.push(listening));
    try {
      await deafened.start();
      const clinic = await newClinic();
      // Its announcement would forget the answer cached next: wait until this listener heard it too.
      await eventually(() => heardHere.includes(clinic.id), 1_000, 'this listener to hear of the new clinic');
      expect(await silentAuth.authenticate(clinic.apiKey)).not.toBeNull();
      proxy.freezeOpen();
      expect(await keys.revoke(clinic.id, clinic.keyId)).toBe(true); // unheard by this listener
      await eventually(async () => (await silentAuth.authenticate(clinic.apiKey)) === null, 5_000, 'the revoked key to be refused');
      expect(told.slice(0, 2)).toEqual([true, false]); // refused because the silence was noticed
      // Listening again, on a new connection: changes are heard at commit again.
      await eventually(() => told.length >= 3 && silentChanges.isListening, 5_000, 'the listener to listen again');
      expect(told).toEqual([true, false, true]);
      expect(proxy.connections).toBe(2);
      const later = await newClinic();
      await eventually(() => heardHere.includes(later.id), 1_000, 'a change after it listens again to be heard');
    } finally {
      await deafened.stop();
      await proxy.stop();
    }
  });

  it('keeps answers for AUTH_CACHE_TTL when it cannot connect at all', async () => {
    const broken = new PgListener({ connect: () => new Client({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 500 }), retryMs: 60_000 });
    const unheard = new ClinicChanges({ listener: broken, schema: db.schema, ttlMs: TTL_MS, maxAgeMs: MAX_AGE_MS });
    const fallback = new ClinicAuthenticator(keys, PEPPER, unheard);
    try {
      await broken.start();
      expect(unheard.isListening).toBe(false);
      const clinic = await newClinic();
      ownerLookups.mockClear();
      expect(await fallback.authenticate(clinic.apiKey)).not.toBeNull();
      expect(await fallback.authenticate(clinic.apiKey)).not.toBeNull();
      expect(ownerLookups).toHaveBeenCalledTimes(1);
      await sleep(TTL_MS + 50);
      expect(await fallback.authenticate(clinic.apiKey)).not.toBeNull();
      expect(ownerLookups).toHaveBeenCalledTimes(2);
    } finally {
      await broken.stop();
    }
  });

  it('does not listen when AUTH_CACHE_MAX_AGE is not above AUTH_CACHE_TTL', async () => {
    const idle = listenerOn(`auth-cache-idle-${db.schema}`);
    const off = new ClinicChanges({ listener: idle, schema: db.schema, ttlMs: TTL_MS, maxAgeMs: 0 });
    await idle.start();
    expect(off.isListening).toBe(false);
    expect(off.keepForMs()).toBe(TTL_MS);
    await idle.stop();
  });
});
