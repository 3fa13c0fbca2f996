import { shipment } from '../delivery/delivery-support';
import { orphanAttempts } from '../support/database';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

const RATE = 25; // events per second for the busy clinic
const LOAD_SECONDS = 12;
const WINDOW_SECONDS = 2; // RETENTION_DELIVERED and RETENTION_DEAD

interface Sample {
  at: number;
  sent: number;
  events: number;
  deliveries: number;
  attempts: number;
}

/**
 * Bounded storage under a steady load, with windows of seconds: the busy clinic's rows stay near
 * rate × window however long it sends, while a failing subscriber's pending deliveries and a disabled
 * one's parked deliveries (and their events) are all kept and delivered once the subscriber is back.
 */
describe('retention: tables stay bounded under a steady load, and nothing waiting is lost', () => {
  let stack: TestStack;
  const healthy = new TestReceiver();
  const failing = new TestReceiver();
  const later = new TestReceiver();

  beforeAll(async () => {
    await Promise.all([healthy.start(), failing.start(), later.start()]);
    failing.respond = () => ({ status: 503 });
    stack = await TestStack.start(__filename, {
      RETENTION_DELIVERED: `${WINDOW_SECONDS}s`,
      RETENTION_DEAD: `${WINDOW_SECONDS}s`,
      RETENTION_INTERVAL: '250ms',
      RETENTION_BATCH_SIZE: '20',
      RETRY_SCHEDULE: Array(60).fill('1s').join(','), // a minute of retries: the failing subscriber's deliveries stay pending
      RETRY_JITTER: '0',
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([healthy.stop(), failing.stop(), later.stop()]);
  });

  const countsOf = async (clinicId: string) =>
    (
      await stack.db.query(
        `SELECT (SELECT count(*) FROM events WHERE clinic_id = $1)::int AS events,
                (SELECT count(*) FROM deliveries WHERE clinic_id = $1)::int AS deliveries,
                (SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.clinic_id = $1)::int AS attempts`,
        [clinicId],
      )
    )[0] as { events: number; deliveries: number; attempts: number };

  it('keeps the busy clinic near rate × window while it sends 12 s of events, and keeps every waiting delivery', async () => {
    const busy = await stack.createClinic('Busy clinic');
    await stack.createSubscriber(busy.id, healthy.url);
    const waiting = await stack.createClinic('Waiting clinic');
    const down = await stack.createSubscriber(waiting.id, failing.url);
    const parked = await stack.createSubscriber(waiting.id, later.url);
    expect((await stack.admin('PATCH', `/api/external/webhook/${parked.id}`, { enabled: false })).status).toBe(200);

    const samples: Sample[] = [];
    const waitingIds: string[] = [];
    let sent = 0;
    const started = Date.now();
    const loading = () => Date.now() - started < LOAD_SECONDS * 1000;
    // The row counts every 500 ms, on their own clock (however slow sending gets on a busy machine).
    const sampling = (async () => {
      while (loading()) {
        samples.push({ at: Date.now() - started, sent, ...(await countsOf(busy.id)) });
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    for (let tick = 0; loading(); tick++) {
      const due = Math.floor(((Date.now() - started) / 1000) * RATE);
      const batch: Array<Promise<unknown>> = [];
      for (; sent < due; sent++) batch.push(stack.send(busy.apiKey, shipment(`busy-${sent}`)).then((r) => expect(r.status).toBe(200)));
      if (tick % 10 === 0) {
        const id = `waiting-${waitingIds.length}`;
        waitingIds.push(id);
        batch.push(stack.send(waiting.apiKey, shipment(id)).then((r) => expect(r.status).toBe(200)));
      }
      await Promise.all(batch);
      await new Promise((r) => setTimeout(r, 100));
    }
    await sampling;
    // eslint-disable-next-line no-console
    console.log(
      `retention under load: busy clinic sent ${sent} events in ${LOAD_SECONDS} s at ${RATE}/s, window ${WINDOW_SECONDS} s\n` +
        samples.map((s) => `  t=${(s.at / 1000).toFixed(1)}s sent ${s.sent}: events ${s.events}, deliveries ${s.deliveries}, attempts ${s.attempts}`).join('\n'),
    );

    // bounded: after the first windows have passed, the rows held never exceed what ~3 windows of sending make,
    // far below what was sent, and they do not grow with time
    const bound = RATE * WINDOW_SECONDS * 3;
    const settled = samples.filter((s) => s.at > (WINDOW_SECONDS + 2) * 1000);
    expect(settled.length).toBeGreaterThan(5);
    expect(sent).toBeGreaterThan(bound * 1.5);
    expect(settled.map((s) => Math.max(s.events, s.deliveries, s.attempts)).filter((n) => n > bound)).toEqual([]);
    const half = Math.floor(settled.length / 2);
    const mean = (xs: Sample[]) => xs.reduce((sum, s) => sum + s.deliveries, 0) / xs.length;
    expect(mean(settled.slice(half))).toBeLessThan(mean(settled.slice(0, half)) + RATE); // no upward trend
    // and once the load stops, the busy clinic's delivered rows all go
    await eventually(async () => {
      const c = await countsOf(busy.id);
      return c.events + c.deliveries + c.attempts === 0;
    }, 15_000, 'the busy clinic to hold nothing');
    // (counted through their deliveries above: none may be left behind without one either)
    expect(await orphanAttempts(stack.db)).toBe(0);
    expect(healthy.requests.length).toBeGreaterThanOrEqual(sent);

    // nothing waiting was lost: every event of the waiting clinic is still there, with a waiting and a parked
    // delivery (waiting: pending, or `delivering` while one of its retries happens to be under way right now)
    const waitingRows = await stack.db.query(
      `SELECT d.subscriber_id, CASE WHEN d.status IN ('pending', 'delivering') THEN 'waiting' ELSE d.status END AS status, count(*)::int AS n
         FROM deliveries d WHERE d.clinic_id = $1 GROUP BY 1, 2 ORDER BY 2`,
      [waiting.id],
    );
    expect(waitingRows).toEqual([
      { subscriber_id: parked.id, status: 'parked', n: waitingIds.length },
      { subscriber_id: down.id, status: 'waiting', n: waitingIds.length },
    ]);
    expect((await countsOf(waiting.id)).events).toBe(waitingIds.length);
    expect(failing.requests.length).toBeGreaterThan(waitingIds.length); // they were being retried all along

    // the subscriber recovers, the disabled one is enabled again: each gets every waiting event
    const shipmentOf = (body: string) => JSON.parse(body).data.shipment_id as string;
    const recovered = new Set<string>();
    failing.respond = (req) => (recovered.add(shipmentOf(req.body)), { status: 200 });
    expect((await stack.admin('PATCH', `/api/external/webhook/${parked.id}`, { enabled: true })).status).toBe(200);
    await eventually(() => waitingIds.every((id) => recovered.has(id)), 20_000, 'the pending deliveries');
    await eventually(() => waitingIds.every((id) => later.requests.some((r) => shipmentOf(r.body) === id)), 20_000, 'the parked deliveries');
    // and then they, too, are deleted after the window
    await eventually(async () => (await countsOf(waiting.id)).deliveries === 0, 15_000, 'the waiting clinic to hold nothing');
  });
});
