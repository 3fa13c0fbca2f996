import { TestReceiver } from '../support/receiver';
import { attemptsOf, sendShipment, useStack, waitForDeliveries } from './delivery-support';

/**
 * A subscriber disabled (or its max_in_flight lowered) while a request to it is under way: the request
 * finishes and its answer is what is recorded. It used to be aborted at the next slot renewal, recorded as a
 * network error and parked, and sent again once the subscriber was enabled, although it had arrived.
 * Renewals run every DELIVERY_LEASE ÷ 3 (1 s here); the receiver answers after 1.2 s.
 */
describe('a request under way when its subscriber is disabled', () => {
  const receiver = new TestReceiver();
  const ctx = useStack(__filename, { DELIVERY_LEASE: '3s', DELIVERY_TIMEOUT: '1400ms', CLINIC_MAX_TIMEOUT: '1500ms' }, [receiver]);

  it('finishes and is recorded as answered, and is not sent again on enable', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Disabled mid-request clinic');
    receiver.respond = () => ({ status: 200, delayMs: 1_200 });
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    await sendShipment(stack, clinic.apiKey, 'disabled-under-way');
    await receiver.waitFor(1, 10_000);
    expect((await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { enabled: false })).status).toBe(200);

    const [delivery] = await waitForDeliveries(stack, sub.id, 'succeeded', 1, 10_000);
    const attempts = await attemptsOf(stack, delivery.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: 'success', status_code: 200 });

    expect((await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { enabled: true })).status).toBe(200);
    // Enabled again, nothing is owed: the receiver keeps its one request while the scheduler looks (every 25 ms
    // for due work, and its reaper every second) and another event goes through after it.
    await sendShipment(stack, clinic.apiKey, 'after-enable');
    receiver.respond = () => ({ status: 200 });
    await waitForDeliveries(stack, sub.id, 'succeeded', 2, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(receiver.requests).toHaveLength(2);
  });
});
