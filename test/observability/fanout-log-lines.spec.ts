import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { INBOUND_SCHEMA_V1, MessageHeaders, subjectsFor } from '@switchyard/contracts';
import { shipment, waitForDeliveries } from '../delivery/delivery-support';
import { LogCapture } from '../support/log-capture';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

/**
 * Fan-out's per-event line at `LOG_LEVEL=info`: a routine event (first delivery of its message, stored as
 * new) writes none — it is in Postgres and in the metrics, and the line cost ~4 % of a draining fan-out —
 * while a message that brings an event already stored (a duplicate, a redelivery) is logged at `info`.
 */
describe("fan-out's per-event log line", () => {
  let stack: TestStack;
  const logs = new LogCapture();
  const receiver = new TestReceiver();
  const fannedOut = () => logs.lines.filter((l) => l.includes('"msg":"event fanned out"')).map((l) => JSON.parse(l));

  beforeAll(async () => {
    await receiver.start();
    stack = await TestStack.start(__filename, { LOG_LEVEL: 'info' }, undefined, { logs });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver.stop();
  });

  it('is not written for a routine event, and is written at info for a duplicate of a stored one', async () => {
    const clinic = await stack.createClinic('Log lines');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    const body = shipment('logged-once');
    const res = await stack.send(clinic.apiKey, body);
    expect(res.status).toBe(200);
    await waitForDeliveries(stack, sub.id, 'succeeded');
    expect(fannedOut()).toEqual([]);

    // The same event again, as a second message (another message id, so JetStream keeps it): fan-out finds
    // it stored and creates nothing. (Ingress never publishes one event twice — its claim and JetStream's
    // duplicate window see to that — so fan-out's fast path does not look for it: this message's attempts go
    // out again, with the same webhook-id, before its store finds the event.)
    const h = natsHeaders();
    h.set(MessageHeaders.schema, INBOUND_SCHEMA_V1);
    h.set(MessageHeaders.eventId, res.body.event_id);
    h.set(MessageHeaders.clinicId, clinic.id);
    h.set(MessageHeaders.eventName, body.event_name);
    h.set(MessageHeaders.receivedAt, new Date().toISOString());
    await jetstream(stack.nc).publish(subjectsFor(stack.config.NATS_PREFIX).inbound(clinic.id), JSON.stringify(body), { msgID: randomUUID(), headers: h });
    const [line] = await eventually(() => (fannedOut().length > 0 ? fannedOut() : null), 10_000, 'the duplicate logged');
    expect(line).toMatchObject({ level: 'info', event_id: res.body.event_id, duplicate: true, deliveries: 0 });
  });
});
