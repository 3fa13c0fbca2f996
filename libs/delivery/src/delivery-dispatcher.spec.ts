import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Agent } from 'undici';
import { loadConfig } from '@switchyard/config';
import { Metrics } from '@switchyard/observability';
import { DeliveryFlowRepository, DeliveryJob, DeliveryRepository } from '@switchyard/persistence';
import { KeyRing } from '@switchyard/secrets';
import { testDatabase } from '../../../test/support/database';
import { TestReceiver } from '../../../test/support/receiver';
import { AttemptRunner } from './attempt-runner';
import { Admission, DeliveryDispatcher } from './delivery-dispatcher';
import { FlowControl } from './flow-control';
import { RetryPolicy } from './retry-policy';
import { generateSigningSecret } from './signature';
import { WebhookSender } from './webhook-sender';

type TestDb = Awaited<ReturnType<typeof testDatabase>>;
const log = pino({ level: 'silent' });

/** A subscriber of the clinic at its own path of the receiver (one live subscriber per URL and clinic). */
async function insertSubscriber(
  db: TestDb,
  clinicId: string,
  receiverUrl: string,
  limits: { maxInFlight?: number | null; rateLimitPerSecond?: number | null; timeoutMs?: number },
): Promise<DeliveryJob['subscriber']> {
  const { maxInFlight = null, rateLimitPerSecond = null, timeoutMs = 30_000 } = limits;
  const id = randomUUID();
  const url = `${receiverUrl}/${id}`;
  await db.ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret, max_in_flight, rate_limit_per_second) VALUES ($1, $2, $3, 'whsec_x', $4, $5)`, [
    id,
    clinicId,
    url,
    maxInFlight,
    rateLimitPerSecond,
  ]);
  return { id, clinicId, url, format: 'cloudevents', enabled: true, secrets: [generateSigningSecret()], apiKey: null, timeoutMs, maxInFlight, rateLimitPerSecond, ordered: false };
}

function newJob(clinicId: string, sub: DeliveryJob['subscriber']): DeliveryJob {
  const event = { id: randomUUID(), clinicId, eventName: 'shipment:created', entityId: null, payload: '{"event_data":{}}', receivedAt: new Date(), traceParent: null, streamSeq: 1 };
  return { deliveryId: randomUUID(), attemptCount: 0, event, subscriber: sub };
}

/** A dispatcher on real flow control; its slots are given back by what it pushes on `stopping`. */
function newDispatcher(db: TestDb, concurrency: number, stopping: Array<() => Promise<void>>, timeoutMs = 30_000): DeliveryDispatcher {
  const flow = new FlowControl(new DeliveryFlowRepository(db.ds), { holder: randomUUID(), leaseMs: 60_000, defaultMaxInFlight: 10, lingerMs: 5_000 }, () => undefined);
  const metrics = new Metrics('fanout');
  const runner = new AttemptRunner(new WebhookSender({ dispatcher: new Agent(), defaultTimeoutMs: timeoutMs }), new RetryPolicy([60_000], 0), metrics, log, true);
  const repo = new DeliveryRepository(db.ds, KeyRing.fromConfig(loadConfig({})));
  stopping.push(() => flow.stop());
  return new DeliveryDispatcher(flow, runner, repo, { concurrency, perClinic: concurrency }, metrics, log);
}

/**
 * Integration (real Postgres for the in-flight slots, a real HTTP receiver): what the stop does to new
 * deliveries whose first attempt waits for a place or a slot behind an attempt that is still under way.
 */
describe('DeliveryDispatcher.stopAdmitting', () => {
  let db: TestDb;
  let receiver: TestReceiver;
  const clinicId = randomUUID();
  const stopping: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    db = await testDatabase(__filename);
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
  });
  beforeEach(async () => {
    receiver = await new TestReceiver().start();
    // The first attempt is answered 2.1 s after it arrives, ~2 s after the stop: before this change a delivery
    // waiting behind it waited that long (then found the stop and was queued), or for its 30 s deadline.
    receiver.respond = () => ({ status: 200, delayMs: 2_100 });
  });
  afterEach(async () => {
    await Promise.all(stopping.splice(0).map((stop) => stop()));
    await receiver.stop();
  });
  afterAll(() => db?.drop());

  const subscriber = (maxInFlight: number | null) => insertSubscriber(db, clinicId, receiver.url, { maxInFlight });
  const job = (sub: DeliveryJob['subscriber']) => newJob(clinicId, sub);
  const dispatcher = (concurrency: number) => newDispatcher(db, concurrency, stopping);

  /** Offers `second` while `first`'s attempt is held at the receiver, stops admitting, and says how `second` came out and whether `first`'s attempt was still under way then. */
  async function stopWhileWaiting(d: DeliveryDispatcher, first: DeliveryJob, second: DeliveryJob) {
    const farDeadline = performance.now() + 30_000; // DELIVERY_FAST_PATH_WAIT far past the test
    const [a] = await d.admitNew([first], farDeadline);
    expect(a!.kind).toBe('started');
    await receiver.waitFor(1);
    let answered = false;
    void (a as Extract<Admission, { kind: 'started' }>).finished.then(() => (answered = true));
    const waiting = d.admitNew([second], farDeadline);
    await new Promise((r) => setTimeout(r, 100)); // `second` is waiting now
    d.stopAdmitting();
    const [b] = await waiting;
    return { second: b, firstStillHeld: !answered };
  }

  it('queues a new delivery that waits for a place at once, while the attempt holding the place goes on', async () => {
    // One place in the process, two subscribers with slots to spare: the second waits for the place.
    const d = dispatcher(1);
    const { second, firstStillHeld } = await stopWhileWaiting(d, job(await subscriber(null)), job(await subscriber(null)));
    expect(second).toEqual({ kind: 'queued', delayMs: 0 });
    expect(firstStillHeld).toBe(true);
  });

  it('queues a new delivery that waits for its subscriber\'s slot at once, while the attempt on the slot goes on', async () => {
    // Room in the process, one slot for the subscriber: its second delivery waits for the slot.
    const d = dispatcher(4);
    const sub = await subscriber(1);
    const { second, firstStillHeld } = await stopWhileWaiting(d, job(sub), job(sub));
    expect(second).toEqual({ kind: 'queued', delayMs: 0 });
    expect(firstStillHeld).toBe(true);
  });

  it('starts no wait once the stop has begun', async () => {
    const d = dispatcher(1);
    d.stopAdmitting();
    await expect(d.admitNew([job(await subscriber(null))], performance.now() + 30_000)).resolves.toEqual([{ kind: 'queued', delayMs: 0 }]);
    expect(receiver.requests).toHaveLength(0);
  });
});

/**
 * Integration (real Postgres for the slots, a real HTTP receiver): a new delivery that needs no wait — an idle slot
 * of its subscriber held here, a place, no rate limit — starts within the `admitNew` call; one that needs a slot
 * Postgres has not granted yet, or a rate token, takes the steps that wait for it.
 */
describe('DeliveryDispatcher.admitNew without a wait', () => {
  let db: TestDb;
  let receiver: TestReceiver;
  const clinicId = randomUUID();
  const stopping: Array<() => Promise<void>> = [];
  type Started = Extract<Admission, { kind: 'started' }>;

  beforeAll(async () => {
    db = await testDatabase(`${__filename}-now`);
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
    receiver = await new TestReceiver().start();
  });
  afterAll(async () => {
    await Promise.all(stopping.splice(0).map((stop) => stop()));
    await receiver?.stop();
    await db?.drop();
  });

  const subscriber = (rateLimitPerSecond: number | null = null) => insertSubscriber(db, clinicId, receiver.url, { rateLimitPerSecond, timeoutMs: 5_000 });
  const job = (sub: DeliveryJob['subscriber']) => newJob(clinicId, sub);
  const dispatcher = (concurrency: number) => newDispatcher(db, concurrency, stopping, 5_000);
  const deadline = () => performance.now() + 5_000;

  it('starts the attempt before the call returns when the subscriber has an idle slot here and the process a place', async () => {
    const d = dispatcher(4);
    const sub = await subscriber();
    // The first delivery has no slot yet: Postgres grants it, so it cannot start within the call.
    const first = d.admitNew([job(sub)], deadline());
    expect(d.free).toBe(4);
    const [a] = await first;
    expect(a!.kind).toBe('started');
    expect((await (a as Started).finished).attempt.outcome).toBe('success'); // its slot stays held, idle, for the linger

    const second = d.admitNew([job(sub)], deadline());
    expect(d.free).toBe(3); // its place was taken in the call itself
    const [b] = await second;
    expect(b!.kind).toBe('started');
    expect((await (b as Started).finished).attempt.outcome).toBe('success');
    expect(d.free).toBe(4);
  });

  it('takes the steps for a rate-limited subscriber, whose token is a statement, even with an idle slot', async () => {
    const d = dispatcher(4);
    const sub = await subscriber(100);
    const [a] = await d.admitNew([job(sub)], deadline());
    await (a as Started).finished;
    const second = d.admitNew([job(sub)], deadline());
    expect(d.free).toBe(4);
    const [b] = await second;
    expect(b!.kind).toBe('started');
    expect((await (b as Started).finished).attempt.outcome).toBe('success');
  });
});
