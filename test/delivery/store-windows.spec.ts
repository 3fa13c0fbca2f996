import { TestReceiver } from '../support/receiver';
import { sendShipment, useStack, waitForDeliveries } from './delivery-support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fan-out stores events in batches, each batch one commit. Events whose deliveries all went straight out
 * wait up to DELIVERY_RECORD_WINDOW for others to share their commit (nothing but their record and their
 * messages' acks waits for it); an event that queues a delivery (an ordered subscriber's: it is attempted
 * only once stored) holds its batch no longer than DELIVERY_STORE_WINDOW. The windows here are far apart
 * (1.5 s against 50 ms) so that which one held a batch shows however slow the machine is.
 */
describe("fan-out's store windows", () => {
  const plain = new TestReceiver();
  const ordered = new TestReceiver();
  const ctx = useStack(__filename, { DELIVERY_RECORD_WINDOW: '1500ms', DELIVERY_STORE_WINDOW: '50ms' }, [plain, ordered]);

  it('delivers each event at once and stores events arriving closer than the record window in one commit', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Record window clinic');
    const sub = await stack.createSubscriber(clinic.id, plain.url);
    const sentAt: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      sentAt.push(Date.now());
      ids.push(await sendShipment(stack, clinic.apiKey, `record-window-${i}`));
      await sleep(100);
    }
    await plain.waitFor(5, 5_000);
    await waitForDeliveries(stack, sub.id, 'succeeded', 5, 10_000);
    const rows: Array<{ id: string; stored_ms: string }> = await stack.db.query(
      `SELECT id::text, (extract(epoch FROM stored_at) * 1000)::bigint::text AS stored_ms FROM events WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const storedAt = new Map(rows.map((r) => [r.id, Number(r.stored_ms)]));
    // The first came alone (nothing before it in the window) and was stored at once; the four after it,
    // each 100 ms behind the one before, share one commit (a slow machine may split them once).
    const later = ids.slice(1).map((id) => storedAt.get(id)!);
    expect(new Set(later).size).toBeLessThanOrEqual(2);
    // Each was delivered at once, and the second long before it was stored: the wait held its record, not its delivery.
    const arrivals = plain.requests.map((r) => r.at).sort((a, b) => a - b);
    arrivals.forEach((at, i) => expect(at - sentAt[i]!).toBeLessThan(1_000));
    expect(Math.min(...later) - arrivals[1]!).toBeGreaterThanOrEqual(1_000);
    const attempts: Array<{ n: number }> = await stack.db.query(
      `SELECT count(*)::int AS n FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscriber_id = $1 AND a.outcome = 'success'`,
      [sub.id],
    );
    expect(attempts[0]!.n).toBe(5);
  });

  it('does not hold an event that queues a delivery longer than the store window', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Store window clinic');
    await stack.createSubscriber(clinic.id, ordered.url, { ordered: true });
    const sentAt: number[] = [];
    // The second comes 100 ms after the first: more are expected, so only the store window bounds the wait.
    for (let i = 0; i < 2; i++) {
      sentAt.push(Date.now());
      await sendShipment(stack, clinic.apiKey, `store-window-${i}`);
      await sleep(100);
    }
    await ordered.waitFor(2, 5_000);
    expect(ordered.requests).toHaveLength(2);
    ordered.requests.forEach((r, i) => expect(r.at - sentAt[i]!).toBeLessThan(1_000));
  });
});
