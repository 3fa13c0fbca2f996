import { TestReceiver } from '../support/receiver';
import { insertDueBacklog, sendShipment, useStack } from './delivery-support';

/**
 * Fair tenants: one clinic with many hanging subscribers, each with a deep backlog, wants far more
 * attempts than a fan-out process runs at once; another clinic's deliveries still go out at once, both
 * a new event's (straight from the stream) and a queued one's (the scheduler's clinics take turns).
 */
describe('fairness between clinics in one fan-out process', () => {
  const tarpit = new TestReceiver();
  const healthy = new TestReceiver();
  const ctx = useStack(
    __filename,
    { DELIVERY_CONCURRENCY: '20', DELIVERY_MAX_IN_FLIGHT_PER_CLINIC: '12', DELIVERY_TIMEOUT: '5s', RETRY_SCHEDULE: '1s', RETRY_JITTER: '0' },
    [tarpit, healthy],
  );

  it("delivers another clinic's events within a poll while one clinic's 30 tarpit subscribers have 3,000 deliveries due", async () => {
    const stack = ctx.stack;
    tarpit.respond = () => 'hang';
    const greedy = await stack.createClinic('Greedy');
    const polite = await stack.createClinic('Polite');
    for (let i = 0; i < 30; i++) {
      const s = await stack.createSubscriber(greedy.id, `${tarpit.url}/${i}`, { max_in_flight: 10 }); // one URL is registered once per clinic
      await insertDueBacklog(stack, greedy.id, s.id, 100);
    }
    const mine = await stack.createSubscriber(polite.id, healthy.url);
    // The greedy clinic fills its share of the process (12 of 20), and holds it: its receivers never answer.
    await tarpit.waitFor(12, 10_000);

    const t0 = Date.now();
    await sendShipment(stack, polite.apiKey, 'polite-live');
    await healthy.waitFor(1, 5_000);
    const live = healthy.requests[0]!.at - t0;
    const t1 = Date.now();
    await insertDueBacklog(stack, polite.id, mine.id, 1);
    await healthy.waitFor(2, 5_000);
    const queued = healthy.requests[1]!.at - t1;
    // eslint-disable-next-line no-console
    console.log(`greedy clinic holds ${tarpit.active} requests open; polite clinic's new event arrived after ${live} ms, its queued delivery after ${queued} ms`);
    expect(tarpit.active).toBeLessThanOrEqual(12);
    // Within a second (without a share per clinic both would wait for the tarpit's 5 s timeouts).
    expect(live).toBeLessThan(1_000);
    expect(queued).toBeLessThan(1_000);
  });
});
