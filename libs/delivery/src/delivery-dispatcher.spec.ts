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

/**
 * Integration (real Postgres for the in-flight slots, a real HTTP receiver): what the stop does to new
 * deliveries whose first attempt waits for a place or a slot behind an attempt that is still under way.
 */
describe('DeliveryDispatcher.stopAdmitting', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let receiver: TestReceiver;
  const log = pino({ level: 'silent' });
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

  async function subscriber(maxInFlight: number | null): Promise<DeliveryJob['subscriber']> {
    const id = randomUUID();
    const own = `${receiver.url}/${id}`; // one live subscriber per URL and clinic
    await db.ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret, max_in_flight) VALUES ($1, $2, $3, 'whsec_x', $4)`, [id, clinicId, own, maxInFlight]);
    return { id, clinicId, url: own, format: 'cloudevents', enabled: true, secrets: [generateSigningSecret()], apiKey: null, timeoutMs: 30_000, maxInFlight, rateLimitPerSecond: null, ordered: false };
  }

  function job(sub: DeliveryJob['subscriber']): DeliveryJob {
    const event = { id: randomUUID(), clinicId, eventName: 'shipment:created', entityId: null, payload: '{"event_data":{}}', receivedAt: new Date(), traceParent: null, streamSeq: 1 };
    return { deliveryId: randomUUID(), attemptCount: 0, event, subscriber: sub };
  }

  function dispatcher(concurrency: number): DeliveryDispatcher {
    const flow = new FlowControl(new DeliveryFlowRepository(db.ds), { holder: randomUUID(), leaseMs: 60_000, defaultMaxInFlight: 10, lingerMs: 5_000 }, () => undefined);
    const metrics = new Metrics('fanout');
    const runner = new AttemptRunner(new WebhookSender({ dispatcher: new Agent(), defaultTimeoutMs: 30_000 }), new RetryPolicy([60_000], 0), metrics, log, true);
    const repo = new DeliveryRepository(db.ds, KeyRing.fromConfig(loadConfig({})));
    stopping.push(() => flow.stop());
    return new DeliveryDispatcher(flow, runner, repo, { concurrency, perClinic: concurrency }, metrics, log);
  }

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
