import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Agent } from 'undici';
import { loadConfig } from '@switchyard/config';
import { Metrics } from '@switchyard/observability';
import { DeliveryFlowRepository, DeliveryRepository } from '@switchyard/persistence';
import { KeyRing } from '@switchyard/secrets';
import { testDatabase } from '../../../test/support/database';
import { eventually } from '../../../test/support/eventually';
import { AttemptRunner } from './attempt-runner';
import { DeliveryDispatcher } from './delivery-dispatcher';
import { DeliveryScheduler } from './delivery-scheduler';
import { FlowControl } from './flow-control';
import { RetryPolicy } from './retry-policy';
import { WebhookSender } from './webhook-sender';

/** The real repository, counting the scheduler's polls (one `findDue` each). */
class CountedPolls extends DeliveryRepository {
  polls = 0;
  override findDue(defaultMaxInFlight: number, limit: number) {
    this.polls++;
    return super.findDue(defaultMaxInFlight, limit);
  }
}

/** Integration: how often the scheduler looks for due work, against real Postgres. */
describe('DeliveryScheduler polling', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  const log = pino({ level: 'silent' });
  const clinicId = randomUUID();
  const subscriberId = randomUUID();
  const stopping: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    db = await testDatabase(__filename);
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
    await db.ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret, ordered) VALUES ($1, $2, 'http://127.0.0.1:1/', 'whsec_x', true)`, [subscriberId, clinicId]);
  });
  afterEach(async () => {
    await Promise.all(stopping.splice(0).map((stop) => stop()));
    await db.ds.query(`DELETE FROM deliveries`);
  });
  afterAll(() => db?.drop());

  /** A scheduler of its own process (its own slot holder) whose ack floor is `storedThrough`. */
  function scheduler(storedThrough: number, idlePollMs = 1_000): { scheduler: DeliveryScheduler; repo: CountedPolls } {
    const repo = new CountedPolls(db.ds, KeyRing.fromConfig(loadConfig({})));
    const flow = new FlowControl(new DeliveryFlowRepository(db.ds), { holder: randomUUID(), leaseMs: 60_000, defaultMaxInFlight: 10, lingerMs: 5_000 }, () => undefined);
    const metrics = new Metrics('fanout');
    const runner = new AttemptRunner(new WebhookSender({ dispatcher: new Agent(), defaultTimeoutMs: 1_000 }), new RetryPolicy([60_000], 0), metrics, log, true);
    const dispatcher = new DeliveryDispatcher(flow, runner, repo, { concurrency: 16, perClinic: 16 }, metrics, log);
    const s = new DeliveryScheduler(repo, dispatcher, flow, async () => storedThrough, { leaseMs: 60_000, defaultMaxInFlight: 10, pollIntervalMs: 1_000, idlePollMs }, metrics, log);
    stopping.push(async () => {
      await s.stop();
      await flow.stop();
    });
    return { scheduler: s, repo };
  }

  /** Polls made in `ms` after an ordered delivery with stream sequence `seq` was noted as queued. */
  async function pollsAfterNoting(s: { scheduler: DeliveryScheduler; repo: CountedPolls }, seq: number, ms: number): Promise<number> {
    s.scheduler.start();
    await new Promise((r) => setTimeout(r, 100)); // the first poll
    const before = s.repo.polls;
    s.scheduler.noteOrdered(seq);
    s.scheduler.wake();
    await new Promise((r) => setTimeout(r, ms));
    return s.repo.polls - before;
  }

  it('stops looking every 25 ms once no ordered delivery is due (another replica leased it)', async () => {
    // Nothing due here: the delivery this process queued went to another replica. It looked 40 times a second, for good.
    const polls = await pollsAfterNoting(scheduler(0), 100, 800);
    expect(polls).toBeLessThanOrEqual(3);
  });

  it('keeps looking every 25 ms while an ordered delivery waits for earlier messages to be stored', async () => {
    const eventId = randomUUID();
    await db.ds.query(
      `INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at, stream_seq) VALUES ($1, $2, 'shipment:created', 'e1', '{}', now(), 100)`,
      [eventId, clinicId],
    );
    await db.ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, entity_id, stream_seq, status, next_attempt_at)
       VALUES (gen_random_uuid(), $1, $2, $3, 'shipment:created', 'e1', 100, 'pending', now())`,
      [eventId, clinicId, subscriberId],
    );
    // The ack floor (50) is behind it: it may not go before messages 51–99 are stored.
    const polls = await pollsAfterNoting(scheduler(50), 100, 800);
    expect(polls).toBeGreaterThanOrEqual(10);
  });

  it('looks at once when due-work announcements stop being heard, not after the sleep it began while listening', async () => {
    // Announcements sent while the connection was silent, before its probe noticed, were missed; a sleep
    // begun while listening lasts up to DELIVERY_IDLE_POLL_INTERVAL.
    const s = scheduler(0, 60_000);
    s.scheduler.setListening(true);
    s.scheduler.start();
    await eventually(() => s.repo.polls >= 1, 2_000, 'the first poll'); // it found nothing: the next in 2 s
    await new Promise((r) => setTimeout(r, 100));
    const before = s.repo.polls;
    s.scheduler.setListening(false);
    await eventually(() => s.repo.polls > before, 1_000, 'a poll once announcements are not heard');
  });
});
