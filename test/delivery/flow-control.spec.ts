import { TestReceiver } from '../support/receiver';
import { attemptsOf, sendShipment, useStack, waitForDeliveries } from './delivery-support';

/** Per-subscriber flow control: at most max_in_flight requests at once, at most rate_limit_per_second. */
describe('flow control per subscriber', () => {
  const receiver = new TestReceiver();
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,200ms,300ms,400ms', RETRY_JITTER: '0' }, [receiver]);

  it('never has more requests open to a subscriber than its max_in_flight', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('In-flight clinic');
    receiver.respond = () => ({ status: 200, delayMs: 150 });
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { max_in_flight: 3 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => sendShipment(stack, clinic.apiKey, `inflight-${i}`)));
    await waitForDeliveries(stack, sub.id, 'succeeded', 20, 15_000);
    // eslint-disable-next-line no-console
    console.log(`max concurrent requests seen: ${receiver.maxActive} (limit 3)`);
    expect(receiver.maxActive).toBeLessThanOrEqual(3);
    expect(receiver.maxActive).toBeGreaterThanOrEqual(2);
  });

  it('spreads deliveries to rate_limit_per_second without spending attempts', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Rate clinic');
    receiver.respond = () => ({ status: 200 });
    const before = receiver.requests.length;
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { rate_limit_per_second: 5 });
    await Promise.all(Array.from({ length: 15 }, (_, i) => sendShipment(stack, clinic.apiKey, `rate-${i}`)));
    const delivered = await waitForDeliveries(stack, sub.id, 'succeeded', 15, 15_000);
    const at = receiver.requests.slice(before).map((r) => r.at);
    const perWindow = Math.max(...at.map((t) => at.filter((u) => u >= t && u < t + 1_000).length));
    // eslint-disable-next-line no-console
    console.log(`15 deliveries at 5/s took ${at[at.length - 1] - at[0]} ms; most in one second: ${perWindow}`);
    // A burst of 5, then 5 a second: 15 need at least 2 s, and no second sees more than burst + rate.
    expect(at[at.length - 1] - at[0]).toBeGreaterThanOrEqual(1_800);
    expect(perWindow).toBeLessThanOrEqual(10);
    const attempts = await Promise.all(delivered.map((d) => attemptsOf(stack, d.id)));
    expect(attempts.every((a) => a.length === 1)).toBe(true);
  });
});
