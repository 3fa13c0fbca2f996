import { jetstreamManager } from '@nats-io/jetstream';
import { subjectsFor } from '@switchyard/contracts';
import { startFanout } from '../../apps/fanout/src/main';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';
import { sendShipment, waitForDeliveries } from './delivery-support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Messages sent: the first is under way at the stop, the second waits in the loop for room (or, taken before the
 * first held the one place, waits inside admission for it: the stop queues it at once too, see
 * delivery-dispatcher.spec.ts), the rest are buffered.
 */
const EVENTS = 6;
/** How long the receiver holds the stopping fan-out's only attempt. */
const HOLD_MS = 10_000;

/**
 * A fan-out that stops hands the messages its client took but had not started handling back to JetStream at
 * once (InboundConsumer.stopTaking and loop): the one its loop holds while it waits for room and those the
 * pull buffered are nak'ed, so another replica delivers them within seconds, not after FANOUT_ACK_WAIT.
 */
describe('fan-out shutdown hands back the messages it took and did not start', () => {
  let stack: TestStack;
  const receiver = new TestReceiver();
  let other: { close(): Promise<void> } | undefined;

  beforeAll(async () => {
    await receiver.start();
    stack = await TestStack.start(
      __filename,
      // One attempt at a time, and a fast-path wait longer than the held attempt, so the loop waits for room
      // (it never gives up on it as stalled and goes on taking) while the rest stay buffered. An ack wait far
      // past the test's bound: a message left un-nak'ed comes back only after it.
      { DELIVERY_CONCURRENCY: '1', DELIVERY_FAST_PATH_WAIT: '15s', FANOUT_ACK_WAIT: '60s', DELIVERY_TIMEOUT: '15s' },
      ['dedupe', 'ingress', 'admin', 'fanout'],
    );
  });
  afterAll(async () => {
    await other?.close().catch(() => undefined);
    await stack?.stop();
    await receiver.stop();
  });

  it('naks the held and buffered messages at the stop: another replica delivers each once, long before the ack wait', async () => {
    const clinic = await stack.createClinic('Hand back at the stop');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    // The stopping fan-out's attempt is held; everything after it is answered at once.
    receiver.respond = (_req, i) => ({ status: 200, delayMs: i === 0 ? HOLD_MS : 0 });
    const jsm = await jetstreamManager(stack.nc);
    const subjects = subjectsFor(stack.config.NATS_PREFIX);
    const consumer = () => jsm.consumers.info(subjects.inboundStream, subjects.fanoutConsumer);

    const sent: string[] = [];
    for (let i = 0; i < EVENTS; i++) sent.push(await sendShipment(stack, clinic.apiKey, `hand-back-${i}`));
    // Fan-out A took every message: one is under way at the receiver, the others wait in its client.
    await eventually(async () => {
      const info = await consumer();
      return info.num_ack_pending === EVENTS && info.num_pending === 0;
    }, 10_000, 'fan-out A to take every message');
    await receiver.waitFor(1);

    // Fan-out B shares the durable consumer; it has nothing to take until A hands messages back.
    other = await startFanout({ ...stack.config, FANOUT_HTTP_PORT: 0 });
    await sleep(300);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.active).toBe(1); // A's only attempt is still held: A started none of the others

    const stopAt = Date.now();
    const closing = stack.stopApp('fanout');
    // The stop wakes A's loop from its wait for room, so the held and buffered messages are nak'ed at once and
    // B delivers them while A's attempt is still held (until stopAt + HOLD_MS at the latest). Waking only when
    // room freed, they came back after the held attempt; without the nak, only after FANOUT_ACK_WAIT (60 s).
    await waitForDeliveries(stack, sub.id, 'succeeded', EVENTS, 25_000);
    const tookMs = Date.now() - stopAt;
    await closing;
    await sleep(500);

    const ids = receiver.requests.map((r) => String(r.headers['webhook-id']));
    // eslint-disable-next-line no-console
    console.log(`after the stop, every event was delivered within ${tookMs} ms (A's attempt held ${HOLD_MS} ms, FANOUT_ACK_WAIT 60 s); ${ids.length} requests, the handed-back ones at ${receiver.requests.slice(1).map((r) => r.at - stopAt).join(", ")} ms`);
    for (const id of sent) expect(ids.filter((x) => x === id)).toHaveLength(1);
    expect(ids).toHaveLength(EVENTS);
    // Every message A had not started reached the receiver through B well before A's held attempt ended.
    const handedBack = receiver.requests.slice(1).map((r) => r.at - stopAt);
    expect(Math.max(...handedBack)).toBeLessThan(HOLD_MS - 4_000);
    expect(tookMs).toBeLessThan(25_000);
    const info = await consumer();
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });
});
