import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { INBOUND_SCHEMA_V1, MessageHeaders, subjectsFor } from '@switchyard/contracts';
import { LogCapture } from '../support/log-capture';
import { TestStack } from '../support/stack';

/** FANOUT_ACK_WAIT of this stack: a message left unacknowledged comes back after it. */
const ACK_WAIT_MS = 1_000;
const TERMINATED_LOG = 'inbound message cannot be processed; terminated';

/**
 * An inbound message fan-out cannot read (an unknown schema, a header missing) is terminated: JetStream
 * must never hand it out again. It was terminated with a reason (`+TERM <reason>`), which nats-server
 * before 2.10.4 does not read as a term at all (2.9 is supported, and is what the tests run on): the
 * message stayed unacknowledged and came back every FANOUT_ACK_WAIT for ever, each time with an error
 * line, and held a place of max_ack_pending. Terminated, its event is dropped for good, so it is counted:
 * switchyard_fanout_events_total{result="invalid"} (its help names that result, and the overview's "Events
 * fanned out" panel draws it), which nothing counted, leaving one log line as the only trace of a dropped
 * event. Real NATS and Postgres.
 */
describe('fan-out: a message it cannot read', () => {
  let stack: TestStack;
  const logs = new LogCapture();

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { FANOUT_ACK_WAIT: `${ACK_WAIT_MS}ms`, LOG_LEVEL: 'info' }, ['fanout'], { logs });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const publishSpoiled = async (spoil: (h: ReturnType<typeof natsHeaders>) => void): Promise<number> => {
    const clinicId = randomUUID();
    const h = natsHeaders();
    h.set(MessageHeaders.schema, INBOUND_SCHEMA_V1);
    h.set(MessageHeaders.eventId, randomUUID());
    h.set(MessageHeaders.clinicId, clinicId);
    h.set(MessageHeaders.eventName, 'shipment:created');
    h.set(MessageHeaders.receivedAt, new Date().toISOString());
    spoil(h);
    const body = JSON.stringify({ event_name: 'shipment:created', event_data: {} });
    const ack = await jetstream(stack.nc).publish(subjectsFor(stack.config.NATS_PREFIX).inbound(clinicId), body, { msgID: randomUUID(), headers: h });
    return ack.seq;
  };

  const counted = async (result: string): Promise<number> => {
    const text = await (await fetch(`${stack.opsUrls.get('fanout')}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('switchyard_fanout_events_total{') && l.includes(`result="${result}"`))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  };

  const terminatedLines = (seq: number) => logs.lines.filter((l) => l.includes(TERMINATED_LOG) && JSON.parse(l).seq === seq).length;

  it.each([
    ['an unknown schema', (h: ReturnType<typeof natsHeaders>) => h.set(MessageHeaders.schema, 'switchyard.inbound.v0')],
    ['no event id', (h: ReturnType<typeof natsHeaders>) => h.delete(MessageHeaders.eventId)],
  ])('with %s is terminated (handed out once, never again) and counted as invalid once', async (_what, spoil) => {
    const subjects = subjectsFor(stack.config.NATS_PREFIX);
    const invalidBefore = await counted('invalid');
    const seq = await publishSpoiled(spoil);
    // Three times the ack wait: an unterminated message would have come back twice.
    await new Promise((r) => setTimeout(r, 3 * ACK_WAIT_MS + 500));
    const info = await (await jetstreamManager(stack.nc)).consumers.info(subjects.inboundStream, subjects.fanoutConsumer);
    expect(info.delivered.stream_seq).toBeGreaterThanOrEqual(seq);
    const invalid = (await counted('invalid')) - invalidBefore;
    expect({ ackPending: info.num_ack_pending, redelivered: info.num_redelivered, logged: terminatedLines(seq), invalid }).toEqual({
      ackPending: 0,
      redelivered: 0,
      logged: 1,
      invalid: 1,
    });
    expect(await counted('stored')).toBe(0);
  }, 15_000);
});
