import { randomUUID } from 'node:crypto';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { shipment, useStack, waitForDeliveries } from './delivery-support';

/**
 * A delivery is `parked` only while its subscriber is disabled, but fan-out decides it from the subscriber it
 * cached and stores it up to the fast-path wait and the store window later: an enable that commits in between
 * unparks the rows it sees, and the one stored after it would wait for ever beside an enabled subscriber. The
 * scheduler's reaper (every `DELIVERY_LEASE` ÷ 3) puts such rows back in the queue.
 */
describe('a delivery stored parked after its subscriber was enabled', () => {
  let stack: TestStack;
  const receiver = new TestReceiver();
  const ctx = useStack(__filename, { DELIVERY_LEASE: '3s', DELIVERY_TIMEOUT: '1s', CLINIC_MAX_TIMEOUT: '1s' }, [receiver]);

  beforeAll(() => {
    stack = ctx.stack;
  });

  it('is delivered once the reaper finds it, not left parked', async () => {
    const clinic = await stack.createClinic('Parked clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    expect((await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { enabled: false })).status).toBe(200);
    expect((await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { enabled: true })).status).toBe(200);
    // What the late store leaves: its event, and the delivery it decided from the cached (disabled) subscriber,
    // committed after the enable.
    const eventId = randomUUID();
    const deliveryId = randomUUID();
    await stack.db.query(
      `INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at) VALUES ($1, $2, 'shipment:created', 'parked-late', $3, now())`,
      [eventId, clinic.id, JSON.stringify(shipment('parked-late'))],
    );
    await stack.db.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, entity_id, status) VALUES ($1, $2, $3, $4, 'shipment:created', 'parked-late', 'parked')`,
      [deliveryId, eventId, clinic.id, sub.id],
    );

    const [delivered] = await waitForDeliveries(stack, sub.id, 'succeeded', 1, 15_000);
    expect(delivered.id).toBe(deliveryId);
    expect(receiver.requests.map((r) => JSON.parse(r.body).subject)).toEqual(['parked-late']);
  });
});
