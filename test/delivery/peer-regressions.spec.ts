import { LogCapture } from '../support/log-capture';
import { TestReceiver, signedBy } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';
import { deliveriesOf, sendShipment, shipment, waitForDeliveries } from './delivery-support';

/**
 * Bugs the webhook gateways we are compared with shipped, each kept out by a test named after it.
 * (The configuration refusals — a lease shorter than the HTTP timeout, a DEDUPE_TTL shorter than the
 * sender's retry span — are in libs/config's spec; the stream or consumer deleted under a running
 * fan-out (svix-webhooks#1844) is in test/scale/riding-out-nats.spec.ts.)
 */
describe('regressions of peer gateways', () => {
  let stack: TestStack;
  const logs = new LogCapture();
  const receiver = new TestReceiver();

  beforeAll(async () => {
    await receiver.start();
    stack = await TestStack.start(
      __filename,
      { RETRY_SCHEDULE: '200ms,200ms,200ms', RETRY_JITTER: '0', DELIVERY_TIMEOUT: '1s', CLINIC_MAX_TIMEOUT: '1s', DELIVERY_LEASE: '2s', LOG_LEVEL: 'info' },
      undefined,
      { logs },
    );
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver.stop();
  });

  it('svix-webhooks#1511: a subscriber deleted while its deliveries are queued leaves no error loop and no backlog', async () => {
    const clinic = await stack.createClinic('Deleted while queued');
    const path = '/deleted-while-queued';
    receiver.respond = (req) => (req.path === path ? { status: 500 } : { status: 200 });
    const sub = await stack.createSubscriber(clinic.id, receiver.url.replace('/hook', path));
    // Sent together, so the five go through their 200 ms backoffs in step and are all pending at once for most of
    // each: sent one after another on a loaded machine, the first was dead-lettered before the last was stored.
    await Promise.all(Array.from({ length: 5 }, (_, i) => sendShipment(stack, clinic.apiKey, `queued-${i}`)));
    await eventually(async () => (await deliveriesOf(stack, sub.id)).filter((d) => d.status === 'pending').length === 5, 10_000, '5 deliveries in backoff');

    const errorsBefore = logs.lines.filter((l) => l.includes('"level":"error"')).length;
    expect((await stack.admin('DELETE', `/api/external/webhook/${sub.id}`)).status).toBe(200);
    const requestsAtDelete = receiver.requests.filter((r) => r.path === path).length;
    // Waiting ones are cancelled at once; one under way ends as its attempt is recorded (cancelled, or dead if it was the last).
    const settled = await eventually(
      async () => {
        const statuses = (await deliveriesOf(stack, sub.id)).map((d) => d.status as string);
        return statuses.every((s) => s === 'cancelled' || s === 'dead') ? statuses : null;
      },
      10_000,
      'no delivery of the deleted subscriber left waiting',
    );
    expect(settled).toContain('cancelled');
    await new Promise((r) => setTimeout(r, 1_000)); // several retry periods
    expect(receiver.requests.filter((r) => r.path === path).length).toBeLessThanOrEqual(requestsAtDelete + 5); // at most those already under way
    expect(logs.lines.filter((l) => l.includes('"level":"error"')).length).toBe(errorsBefore);
  });

  it('convoy#2747: two concurrent identical requests publish once', async () => {
    const clinic = await stack.createClinic('Concurrent duplicates');
    const body = shipment('concurrent-twin');
    const before = await stack.storedMessages();
    const answers = await Promise.all(Array.from({ length: 8 }, () => stack.send(clinic.apiKey, body)));
    const accepted = answers.filter((a) => a.status === 200 && !a.body.duplicate);
    expect(accepted).toHaveLength(1);
    // The others are duplicates, or 409 while the first was still being published (Nimbus retries those).
    expect(answers.every((a) => (a.status === 200 && (a === accepted[0] || a.body.duplicate)) || a.status === 409)).toBe(true);
    expect(await stack.storedMessages()).toBe(before + 1);
  });

  it('outpost#951: a second secret rotation inside the overlap keeps the previous secret valid', async () => {
    const clinic = await stack.createClinic('Rotating twice');
    const path = '/rotating-twice';
    receiver.respond = () => ({ status: 200 });
    const sub = await stack.createSubscriber(clinic.id, receiver.url.replace('/hook', path));
    const first = await stack.admin('POST', `/api/external/webhook/${sub.id}/rotate-secret`, { overlap_seconds: 3600 });
    const second = await stack.admin('POST', `/api/external/webhook/${sub.id}/rotate-secret`, {});
    expect([first.status, second.status]).toEqual([201, 201]);
    await sendShipment(stack, clinic.apiKey, 'after-two-rotations');
    await eventually(async () => receiver.requests.some((r) => r.path === path), 10_000, 'the delivery');
    const req = receiver.requests.find((r) => r.path === path)!;
    const verifies = (secret: string) => signedBy(secret, req);
    expect(verifies(second.body.data.secret)).toBe(true); // the new secret
    expect(verifies(first.body.data.secret)).toBe(true); // the previous one, still inside its overlap
    expect(verifies(sub.secret)).toBe(false); // the one before that is gone
  });

  it('convoy#1833: a 403 answer is retried on the schedule, recorded, and dead-lettered', async () => {
    const clinic = await stack.createClinic('Forbidden');
    const path = '/forbidden';
    receiver.respond = (req) => (req.path === path ? { status: 403, body: '{"error":"forbidden"}' } : { status: 200 });
    const sub = await stack.createSubscriber(clinic.id, receiver.url.replace('/hook', path));
    await sendShipment(stack, clinic.apiKey, 'forbidden-1');
    const [dead] = await waitForDeliveries(stack, sub.id, 'dead', 1, 15_000);
    const attempts = (await stack.admin('GET', `/admin/deliveries/${dead.id}`)).body.attempts;
    expect(attempts.map((a: any) => [a.attempt, a.outcome, a.status_code])).toEqual([
      [1, 'http_error', 403],
      [2, 'http_error', 403],
      [3, 'http_error', 403],
      [4, 'http_error', 403],
    ]);
    expect(attempts[0].response_excerpt).toBe('{"error":"forbidden"}');
    const at = receiver.requests.filter((r) => r.path === path).map((r) => r.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(190);
  });

  it('svix-webhooks#2181: a receiver slower than most of the lease gets each attempt once', async () => {
    const clinic = await stack.createClinic('Slow receiver');
    const path = '/slow';
    // DELIVERY_LEASE 2 s, DELIVERY_TIMEOUT 1 s: the answer comes at 900 ms, well into the lease's renewals.
    receiver.respond = (req) => (req.path === path ? { status: 200, delayMs: 900 } : { status: 200 });
    const sub = await stack.createSubscriber(clinic.id, receiver.url.replace('/hook', path), { max_in_flight: 1 });
    for (let i = 0; i < 3; i++) await sendShipment(stack, clinic.apiKey, `slow-${i}`);
    await waitForDeliveries(stack, sub.id, 'succeeded', 3, 20_000);
    await new Promise((r) => setTimeout(r, 2_500)); // past a lease, in case one ran out
    const ids = receiver.requests.filter((r) => r.path === path).map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
  });
});
