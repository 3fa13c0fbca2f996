import { TestReceiver } from '../support/receiver';
import { insertDueBacklog, sendShipment, useStack } from './delivery-support';

/**
 * A lowered `max_in_flight` applies to the requests that start after it (docs/ARCHITECTURE.md, in-flight
 * slots). The slots a process already held past the new limit used to keep taking new requests until their
 * next renewal (every DELIVERY_LEASE ÷ 3: 20 s by default).
 */
describe('max_in_flight lowered while a backlog drains', () => {
  // One receiver per case: the first case's backlog is still draining, one at a time, during the second.
  const receivers = { queued: new TestReceiver(), new: new TestReceiver() };
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,200ms,300ms,400ms', RETRY_JITTER: '0' }, Object.values(receivers));
  const ANSWER_MS = 600;

  /** Most requests open at once among those that arrived at or after `since` (each is open ANSWER_MS). */
  const mostOpenSince = (receiver: TestReceiver, since: number) => {
    const at = receiver.requests.map((r) => r.at).filter((t) => t >= since);
    return Math.max(0, ...at.map((t) => at.filter((u) => u <= t && u > t - ANSWER_MS).length));
  };

  it.each([
    ['queued work (the scheduler)', 'queued'],
    ['new events (straight from the stream)', 'new'],
  ] as const)('keeps to the lowered limit for %s', async (_label, path) => {
    const stack = ctx.stack;
    const receiver = receivers[path];
    receiver.respond = () => ({ status: 200, delayMs: ANSWER_MS });
    const clinic = await stack.createClinic(`Lowered limit ${path}`);
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { max_in_flight: 4 });
    const feed = async (n: number) => {
      if (path === 'queued') await insertDueBacklog(stack, clinic.id, sub.id, n);
      else await Promise.all(Array.from({ length: n }, (_, i) => sendShipment(stack, clinic.apiKey, `lowered-${Date.now()}-${i}`)));
    };
    await feed(12);
    await receiver.waitFor(4, 10_000);
    expect((await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { max_in_flight: 1 })).status).toBe(200);
    const changed = Date.now();
    // The requests open at the change finish (they keep their slots until then); anything after is held to 1.
    await new Promise((r) => setTimeout(r, ANSWER_MS + 100));
    const since = Date.now();
    await feed(8);
    await new Promise((r) => setTimeout(r, 3 * ANSWER_MS));
    const most = mostOpenSince(receiver, since);
    // eslint-disable-next-line no-console
    console.log(`${path}: ${receiver.requests.filter((r) => r.at >= since).length} requests after the change (+${since - changed} ms); most open at once ${most} (limit 1)`);
    expect(receiver.requests.filter((r) => r.at >= since).length).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(1);
  });
});
