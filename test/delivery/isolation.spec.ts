import { TestReceiver } from '../support/receiver';
import { insertDueBacklog, percentile, sendShipment, useStack } from './delivery-support';

/**
 * No head-of-line blocking: clinic A's subscriber hangs with thousands of deliveries due, and clinic B's
 * subscriber still receives every new event promptly.
 */
describe('delivery isolation between subscribers', () => {
  const stuck = new TestReceiver();
  const healthy = new TestReceiver();
  const failing = new TestReceiver();
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,200ms,300ms,400ms', RETRY_JITTER: '0', DELIVERY_TIMEOUT: '5s' }, [stuck, healthy, failing]);

  /** Sends 20 events for `b` one by one and returns how long each took to reach `receiver`. */
  async function latenciesOf(b: { apiKey: string }, receiver: TestReceiver, label: string): Promise<number[]> {
    const latencies: number[] = [];
    const before = receiver.requests.length;
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      await sendShipment(ctx.stack, b.apiKey, `${label}-${i}`);
      await receiver.waitFor(before + i + 1, 5_000);
      latencies.push(receiver.requests[before + i].at - t0);
    }
    // eslint-disable-next-line no-console
    console.log(`${label} latencies ms: p50=${percentile(latencies, 50)} max=${Math.max(...latencies)} all=${latencies.join(',')}`);
    return latencies;
  }

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

    const latencies = await latenciesOf(b, healthy, 'B (A hangs)');
    expect(Math.max(...latencies)).toBeLessThan(2_000);
    // A never had more than its in-flight limit open (it hangs, so nothing was answered).
    expect(stuck.requests.length).toBeGreaterThan(0);
    expect(stuck.requests.length).toBeLessThanOrEqual(10);
  });

  it("keeps delivering D's events promptly while C fails fast through 2,000 due deliveries", async () => {
    const stack = ctx.stack;
    failing.respond = () => ({ status: 500 });
    const c = await stack.createClinic('C');
    const d = await stack.createClinic('D');
    const subC = await stack.createSubscriber(c.id, failing.url);
    await stack.createSubscriber(d.id, healthy.url);
    await insertDueBacklog(stack, c.id, subC.id, 2_000);
    await new Promise((r) => setTimeout(r, 300));

    const latencies = await latenciesOf(d, healthy, 'D (C fails)');
    expect(Math.max(...latencies)).toBeLessThan(2_000);
    expect(failing.requests.length).toBeGreaterThan(20);
  });
});
