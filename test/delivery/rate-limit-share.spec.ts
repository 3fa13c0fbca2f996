import { TestReceiver } from '../support/receiver';
import { insertDueBacklog, useStack } from './delivery-support';

/**
 * A rate-limited subscriber with a deep backlog takes, per poll, no more of its clinic's share than its rate
 * can use: the places it cannot send on (no token) go to the clinic's other subscribers, not to deliveries
 * that are leased only to be put back.
 */
describe("a rate-limited subscriber's backlog and its clinic's other subscribers", () => {
  const slow = new TestReceiver();
  const other = new TestReceiver();
  const churn = new TestReceiver();
  // A clinic share smaller than the subscribers' default max_in_flight (10).
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,200ms,300ms,400ms', RETRY_JITTER: '0', DELIVERY_MAX_IN_FLIGHT_PER_CLINIC: '4' }, [slow, other, churn]);

  it("delivers another subscriber's queued work promptly while a 1/s subscriber of the same clinic has 1,500 due", async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Rate share clinic');
    const limited = await stack.createSubscriber(clinic.id, slow.url, { rate_limit_per_second: 1 });
    const healthy = await stack.createSubscriber(clinic.id, other.url);
    await insertDueBacklog(stack, clinic.id, limited.id, 1_500);
    await new Promise((r) => setTimeout(r, 200));

    const t0 = Date.now();
    await insertDueBacklog(stack, clinic.id, healthy.id, 5);
    await other.waitFor(5, 20_000);
    const tookMs = other.requests[4].at - t0;
    // eslint-disable-next-line no-console
    console.log(`5 queued deliveries to the other subscriber took ${tookMs} ms; the 1/s subscriber got ${slow.requests.length} requests`);
    expect(tookMs).toBeLessThan(1_000);
    // The limited subscriber keeps to its rate meanwhile (a burst of 1, then 1 a second).
    expect(slow.requests.length).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 1_000) + 2);
  });

  it("does not lease and put back a 1/s subscriber's backlog over and over while its bucket is empty", async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Rate churn clinic');
    const limited = await stack.createSubscriber(clinic.id, churn.url, { rate_limit_per_second: 1 });
    await insertDueBacklog(stack, clinic.id, limited.id, 500);
    await new Promise((r) => setTimeout(r, 1_000));
    const before = churn.requests.length;
    const [{ t0 }] = await stack.db.query(`SELECT clock_timestamp() AS t0`);
    await new Promise((r) => setTimeout(r, 3_000));
    // Every lease that found no token rewrote its delivery twice (leased, put back): count the deliveries touched.
    const [{ n }] = await stack.db.query(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1 AND updated_at > $2`, [limited.id, t0]);
    // eslint-disable-next-line no-console
    console.log(`in 3 s: ${n} of the 1/s subscriber's 500 due deliveries leased or put back; ${churn.requests.length - before} sent`);
    expect(churn.requests.length - before).toBeGreaterThanOrEqual(2);
    // What it sends (about 3), and what each poll of its due work leases on a token's way (at most one a poll).
    expect(n).toBeLessThan(30);
  });
});
