import { randomUUID } from 'node:crypto';
import { TestReceiver } from '../support/receiver';
import { attemptsOf, useStack, waitForDeliveries } from './delivery-support';

/**
 * An event whose stored payload is not JSON can only come from a message that bypassed ingress. A CloudEvents
 * subscriber cannot be sent it: the attempt is recorded as `unrenderable` and the delivery dead-lettered at
 * once (before, the sender threw before recording anything and the delivery was retaken after every lease,
 * for ever). A nimbus-format subscriber gets the bytes as they are.
 */
describe('a stored payload that cannot be rendered', () => {
  const cloudEvents = new TestReceiver();
  const nimbus = new TestReceiver();
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,100ms,100ms', RETRY_JITTER: '0' }, [cloudEvents, nimbus]);

  it('dead-letters the CloudEvents delivery after one attempt without sending it; the nimbus one is delivered', async () => {
    const { stack } = ctx;
    const clinic = await stack.createClinic('Unrenderable');
    const ce = await stack.createSubscriber(clinic.id, cloudEvents.url);
    const raw = await stack.createSubscriber(clinic.id, nimbus.url, { format: 'nimbus' });
    const eventId = randomUUID();
    const payload = '{"event_name": "shipment:created", truncated';
    await stack.db.query(
      `INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at) VALUES ($1, $2, 'shipment:created', 'x', $3, now())`,
      [eventId, clinic.id, payload],
    );
    await stack.db.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, next_attempt_at)
       SELECT gen_random_uuid(), $1, $2, s, 'shipment:created', 'pending', now() FROM unnest($3::uuid[]) AS s`,
      [eventId, clinic.id, [ce.id, raw.id]],
    );

    const [dead] = await waitForDeliveries(stack, ce.id, 'dead');
    const [delivered] = await waitForDeliveries(stack, raw.id, 'succeeded');
    const attempts = await attemptsOf(stack, dead.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: 'unrenderable', status_code: null });
    expect(attempts[0].error).toMatch(/cannot be rendered as cloudevents/);
    expect((await attemptsOf(stack, delivered.id)).map((a) => a.outcome)).toEqual(['success']);

    // Three retries at 100 ms would have come and gone by now: nothing more is attempted or sent.
    await new Promise((r) => setTimeout(r, 500));
    expect(await attemptsOf(stack, dead.id)).toHaveLength(1);
    expect(cloudEvents.requests).toHaveLength(0);
    expect(nimbus.requests.map((r) => r.body)).toEqual([payload]);
  });
});
