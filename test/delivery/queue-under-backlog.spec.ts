import { TestReceiver } from '../support/receiver';
import { eventually } from '../support/stack';
import { insertDueBacklog, sendShipment, useStack } from './delivery-support';

/**
 * Queued work keeps its turn while fan-out drains a backlog straight from the stream. With every place of
 * the process taken by new events' first attempts, a due delivery in the Postgres queue (a retry, a replay,
 * one queued behind a busy subscriber) is owed the next free place: fan-out stops taking messages until
 * the scheduler has it, instead of leaving it for when the stream runs dry.
 */
describe('queued deliveries during a backlog', () => {
  const slow = new TestReceiver();
  const other = new TestReceiver();
  const elsewhere = new TestReceiver();
  const ctx = useStack(__filename, { DELIVERY_CONCURRENCY: '4', DELIVERY_MAX_IN_FLIGHT_PER_CLINIC: '4' }, [slow, other, elsewhere]);
  slow.respond = () => ({ status: 200, body: '{"ok":true}', delayMs: 100 });

  /** Sends `n` events to a new clinic whose one subscriber answers after 100 ms: a backlog of n × 25 ms at 4 attempts at a time. */
  async function backlogOf(n: number, prefix: string): Promise<void> {
    const clinic = await ctx.stack.createClinic(`Busy clinic ${prefix}`);
    await ctx.stack.createSubscriber(clinic.id, `${slow.url}/${prefix}`);
    for (let i = 0; i < n; i++) await sendShipment(ctx.stack, clinic.apiKey, `${prefix}-${i}`);
  }

  it('attempts a due queued delivery while the backlog is still being drained, not after it', async () => {
    const stack = ctx.stack;
    const quiet = await stack.createClinic('Quiet clinic');
    const queuedTo = await stack.createSubscriber(quiet.id, other.url);
    const events = 150;
    const sending = backlogOf(events, 'first');
    // Once the process is full (4 at a slow receiver), while the events are still coming in.
    await eventually(() => slow.active >= 4, 10_000, 'every place of the process taken');
    const queuedAt = Date.now();
    await insertDueBacklog(stack, quiet.id, queuedTo.id, 1);
    await sending;
    await other.waitFor(1, 10_000);
    const waited = other.requests[0]!.at - queuedAt;
    const backlogLeft = events - slow.requests.filter((r) => r.at <= other.requests[0]!.at).length;
    // eslint-disable-next-line no-console
    console.log(`queued delivery attempted after ${waited} ms, with ${backlogLeft} of the backlog's ${events} deliveries still to go`);
    expect(backlogLeft).toBeGreaterThan(events / 4);
    expect(waited).toBeLessThan(2_000);

    await eventually(() => slow.requests.length >= events, 20_000, 'the whole backlog delivered');
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.requests).toHaveLength(events);
    expect(other.requests).toHaveLength(1);
  });

  it('does not hold new events back for queued work that cannot start here (its slots are held by another replica)', async () => {
    const stack = ctx.stack;
    // Three clinics, one subscriber each, whose two slots belong to another replica for a minute: their due
    // deliveries cannot start here, and together they want more than the process's 4 places.
    for (let c = 0; c < 3; c++) {
      const clinic = await stack.createClinic(`Clinic served elsewhere ${c}`);
      const held = await stack.createSubscriber(clinic.id, `${elsewhere.url}/${c}`, { max_in_flight: 2 });
      await stack.db.query(
        `INSERT INTO delivery_slots (subscriber_id, slot, holder, lease_until) SELECT $1, g, 'another-replica', now() + interval '1 minute' FROM generate_series(0, 1) g`,
        [held.id],
      );
      await insertDueBacklog(stack, clinic.id, held.id, 10);
    }
    const before = slow.requests.length;
    const events = 100;
    const t0 = Date.now();
    await backlogOf(events, 'second');
    // 100 × 100 ms at 4 at a time is ~2.5 s of attempts. Work that could not start with the room it had is owed
    // none: holding new messages back for it would stall this process until the other replica's minute is up.
    await eventually(() => slow.requests.length >= before + events, 15_000, 'the backlog delivered while the queued work waits for its slots');
    // eslint-disable-next-line no-console
    console.log(`backlog of ${events} delivered in ${Date.now() - t0} ms beside 30 deliveries waiting for another replica's slots`);
    expect(elsewhere.requests).toHaveLength(0);
  });
});

/**
 * A subscriber with more queued work than its in-flight limit lets go at once has its queue taken as its
 * attempts end, not one limit's worth per poll interval. (The scheduler looked again on freed room only when
 * room had cut a poll short; a queue cut short by the subscriber's own limit waited for the next interval:
 * after a drain, 2,700 queued deliveries went at 60 a second.)
 */
describe('a queue deeper than its subscriber\'s in-flight limit', () => {
  const receiver = new TestReceiver();
  // Only a wake-up or freed room makes the scheduler look before 5 s.
  const ctx = useStack(__filename, { DELIVERY_POLL_INTERVAL: '5s' }, [receiver]);

  it('is taken as its attempts end', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Deep queue');
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { max_in_flight: 2 });
    const t0 = Date.now();
    await insertDueBacklog(stack, clinic.id, sub.id, 20);
    // Ten rounds of two: one poll interval alone would be 5 s, ten of them 50 s.
    await receiver.waitFor(20, 4_000);
    // eslint-disable-next-line no-console
    console.log(`20 queued deliveries, 2 at a time, in ${Date.now() - t0} ms`);
    expect(receiver.maxActive).toBeLessThanOrEqual(2);
  });
});
