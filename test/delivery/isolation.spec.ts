import { TestReceiver } from '../support/receiver';
import { insertDueBacklog, percentile, sendShipment, useStack } from './delivery-support';

/**
 * No head-of-line blocking: clinic A's subscriber hangs with thousands of deliveries due, and clinic B's
 * subscriber still receives every new event promptly.
 */
describe('delivery isolation between subscribers', () => {
  const stuck = new TestReceiver();
  const healthy = new TestReceiver();
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,200ms,300ms,400ms', RETRY_JITTER: '0', DELIVERY_TIMEOUT: '5s' }, [stuck, healthy]);

  it("keeps delivering B's events promptly while A hangs with 2,000 deliveries due", async () => {
    const stack = ctx.stack;
    stuck.respond = () => 'hang';
    const a = await stack.createClinic('A');
    const b = await stack.createClinic('B');
    const subA = await stack.createSubscriber(a.id, stuck.url);
    await stack.createSubscriber(b.id, healthy.url);
    await insertDueBacklog(stack, a.id, subA.id, 2_000);
    // A new event for A too, so the fast path and the poller both meet the stuck subscriber.
    await sendShipment(stack, a.apiKey, 'a-live');
    await new Promise((r) => setTimeout(r, 300));

    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      await sendShipment(stack, b.apiKey, `b-${i}`);
      await healthy.waitFor(i + 1, 5_000);
      latencies.push(healthy.requests[i].at - t0);
    }
    // eslint-disable-next-line no-console
    console.log(`B latencies ms: p50=${percentile(latencies, 50)} max=${Math.max(...latencies)} all=${latencies.join(',')}; A in flight=${stuck.requests.length}`);
    expect(Math.max(...latencies)).toBeLessThan(2_000);
    // A got no more than its in-flight limit at once (it hangs, so nothing was answered).
    expect(stuck.requests.length).toBeLessThanOrEqual(10);
  });
});
