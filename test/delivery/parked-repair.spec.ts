import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { sendShipment, useStack, waitForDeliveries } from './delivery-support';

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
    await sendShipment(stack, clinic.apiKey, 'parked-late');
    const [parked] = await waitForDeliveries(stack, sub.id, 'parked');
    // The enable commits and unparks what it sees; the late store's row lands parked after it. Here the
    // enable runs first and the row is parked again, as that store leaves it.
    expect((await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { enabled: true })).status).toBe(200);
    await stack.db.query(`UPDATE deliveries SET status = 'parked', next_attempt_at = NULL WHERE id = $1`, [parked.id]);
    expect(receiver.requests).toHaveLength(0);

    const [delivered] = await waitForDeliveries(stack, sub.id, 'succeeded', 1, 15_000);
    expect(delivered.id).toBe(parked.id);
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(receiver.requests[0]!.body).subject).toBe('parked-late');
  });
});
