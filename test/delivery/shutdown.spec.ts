import { jetstreamManager } from '@nats-io/jetstream';
import { subjectsFor } from '@switchyard/contracts';
import { LogCapture } from '../support/log-capture';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';
import { sendShipment, useStack, waitForDeliveries } from './delivery-support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A fan-out that is stopped (a rolling deploy) while attempts are under way, while a message it took waits
 * for a slot, and while a new message arrives: what reached the subscriber is recorded once and its message
 * acked, what did not is left for the next fan-out, and nothing is written after the close.
 */
describe('fan-out shutdown', () => {
  let stack: TestStack;
  const logs = new LogCapture();
  const receiver = new TestReceiver();
  /**
   * Warnings and errors of fan-out: a write to a closed pool or an ack on a closed connection would be one, and
   * so would a stop that says it no longer hears changes (noise at every deploy) or left work under way.
   */
  const fanoutErrors = () => logs.lines.map((l) => JSON.parse(l)).filter((l) => l.app === 'fanout' && ['warn', 'error', 'fatal'].includes(l.level));

  // A fast-path wait long enough for the second message to wait for the subscriber's only slot; a lease short
  // enough that a delivery left `delivering` would come back (a duplicate) within the test.
  const ctx = useStack(
    __filename,
    { LOG_LEVEL: 'warn', DELIVERY_FAST_PATH_WAIT: '2s', DELIVERY_TIMEOUT: '5s', CLINIC_MAX_TIMEOUT: '5s', DELIVERY_LEASE: '10s', FANOUT_ACK_WAIT: '3s' },
    [receiver],
    { logs },
  );
  beforeAll(() => {
    stack = ctx.stack;
  });

  it('records every attempt that reached the subscriber once, acks its message, releases its slots and writes nothing after close', async () => {
    const clinic = await stack.createClinic('Rolling deploy');
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { max_in_flight: 1 });
    // The first request takes 1 s, later ones of the stopping fan-out 3 s (they would outlast its close).
    receiver.respond = (_req, i) => ({ status: 200, delayMs: i === 0 ? 1_000 : 3_000 });
    const jsm = await jetstreamManager(stack.nc);
    const subjects = subjectsFor(stack.config.NATS_PREFIX);
    const consumer = () => jsm.consumers.info(subjects.inboundStream, subjects.fanoutConsumer);

    const first = await sendShipment(stack, clinic.apiKey, 'under-way');
    await receiver.waitFor(1); // its attempt is under way
    const second = await sendShipment(stack, clinic.apiKey, 'waiting-for-a-slot');
    await eventually(async () => (await consumer()).num_ack_pending === 2, 5_000, 'fan-out to take the second message');

    const closing = stack.stopApp('fanout');
    const third = await sendShipment(stack, clinic.apiKey, 'arriving-mid-shutdown');
    await closing;
    receiver.respond = () => ({ status: 200 });
    // Whatever the stopped fan-out sent has been answered, and anything it would write after that has had time to fail.
    await eventually(() => receiver.active === 0, 10_000, 'the requests of the stopped fan-out to end');
    await sleep(500);

    const sentBeforeClose = [...new Set(receiver.requests.map((r) => String(r.headers['webhook-id'])))];
    // eslint-disable-next-line no-console
    console.log(`the stopped fan-out sent ${receiver.requests.length} request(s): ${sentBeforeClose.map((id) => (id === first ? 'first' : id === second ? 'second' : 'third')).join(', ')}`);
    expect(sentBeforeClose).toContain(first);
    const floor = (await consumer()).ack_floor.stream_seq;
    for (const eventId of sentBeforeClose) {
      const rows = await stack.db.query(
        `SELECT d.status, d.attempt_count, e.stream_seq, (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts
           FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.event_id = $1`,
        [eventId],
      );
      // Recorded once, and its message acked (at or below the consumer's ack floor).
      expect(rows).toEqual([{ status: 'succeeded', attempt_count: 1, attempts: 1, stream_seq: expect.anything() }]);
      expect(Number(rows[0].stream_seq)).toBeLessThanOrEqual(floor);
    }
    expect(fanoutErrors()).toEqual([]);
    expect((await stack.db.query(`SELECT count(*)::int AS n FROM delivery_slots`))[0].n).toBe(0);

    // A fresh fan-out delivers what the stopped one left, each event once in all.
    await stack.startApp('fanout');
    await waitForDeliveries(stack, sub.id, 'succeeded', 3, 20_000);
    await sleep(500);
    const ids = receiver.requests.map((r) => String(r.headers['webhook-id']));
    for (const id of [first, second, third]) expect(ids.filter((x) => x === id)).toHaveLength(1);
    expect(fanoutErrors()).toEqual([]);
  });
});
