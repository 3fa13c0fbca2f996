import { ReceiverPool } from '../support/receiver';
import { TestStack } from '../support/stack';
import { freePort } from '../support/free-port';
import { attemptsOf, offsets, sendShipment, useStack, waitForDeliveries } from './delivery-support';

const SCHEDULE = [100, 200, 300, 400];

/** The retry schedule on a scaled clock, dead letters and replay, and what counts as a failed attempt. */
describe('retry schedule, dead letters and replay', () => {
  let stack: TestStack;
  let clinic: { id: string; apiKey: string };
  const receivers = new ReceiverPool();
  const receiver = () => receivers.next();
  const ctx = useStack(__filename, { RETRY_SCHEDULE: '100ms,200ms,300ms,400ms', RETRY_JITTER: '0', DELIVERY_TIMEOUT: '300ms' }, receivers.all);

  beforeAll(async () => {
    stack = ctx.stack;
    clinic = await stack.createClinic('Retry clinic');
  });

  it('tries 5 times at the scheduled offsets, dead-letters, and a replay by ids delivers with the same webhook-id', async () => {
    const failing = await receiver();
    failing.respond = () => ({ status: 500, body: 'nope' });
    const sub = await stack.createSubscriber(clinic.id, failing.url);
    await sendShipment(stack, clinic.apiKey, 'dead-1');
    const [dead] = await waitForDeliveries(stack, sub.id, 'dead');
    expect(failing.requests).toHaveLength(5);
    const at = offsets(failing.requests.map((r) => r.at));
    // eslint-disable-next-line no-console
    console.log(`attempt offsets ms (schedule ${SCHEDULE.join(',')}): ${at.join(',')}`);
    at.slice(1).forEach((offset, i) => expect(offset - at[i]).toBeGreaterThanOrEqual(SCHEDULE[i] - 5));
    expect(dead.attempt_count).toBe(5);

    const listed = await stack.admin('GET', `/admin/dead-letters?webhook_id=${sub.id}`);
    expect(listed.body.items.map((d: any) => d.id)).toEqual([dead.id]);

    failing.respond = () => ({ status: 204 });
    const replay = await stack.admin('POST', '/admin/dead-letters/replay', { ids: [dead.id] });
    expect(replay).toMatchObject({ status: 200, body: { queued: 1 } });
    await waitForDeliveries(stack, sub.id, 'succeeded');
    expect(failing.requests).toHaveLength(6);
    expect(new Set(failing.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
  });

  it('replays by clinic, webhook and time range', async () => {
    const failing = await receiver();
    failing.respond = () => ({ status: 500 });
    const c = await stack.createClinic('Bulk replay clinic');
    const sub = await stack.createSubscriber(c.id, failing.url);
    const since = new Date().toISOString();
    await sendShipment(stack, c.apiKey, 'bulk-1');
    await sendShipment(stack, c.apiKey, 'bulk-2');
    await waitForDeliveries(stack, sub.id, 'dead', 2);
    const ids = new Set(failing.requests.map((r) => r.headers['webhook-id']));

    const outside = await stack.admin('POST', '/admin/dead-letters/replay', { clinic_id: c.id, webhook_id: sub.id, until: since });
    expect(outside.body).toEqual({ queued: 0 });
    failing.respond = () => ({ status: 200 });
    const replay = await stack.admin('POST', '/admin/dead-letters/replay', { clinic_id: c.id, webhook_id: sub.id, since, until: new Date().toISOString() });
    expect(replay).toMatchObject({ status: 200, body: { queued: 2 } });
    await waitForDeliveries(stack, sub.id, 'succeeded', 2);
    expect(new Set(failing.requests.slice(-2).map((r) => r.headers['webhook-id']))).toEqual(ids);
  });

  it('counts a redirect as a failure and never follows it', async () => {
    const target = await receiver();
    const redirecting = await receiver();
    redirecting.respond = () => ({ status: 302, headers: { location: target.url } });
    const sub = await stack.createSubscriber(clinic.id, redirecting.url);
    await sendShipment(stack, clinic.apiKey, 'redirect-1');
    const [d] = await waitForDeliveries(stack, sub.id, 'dead');
    expect((await attemptsOf(stack, d.id)).map((a) => a.outcome)).toEqual(Array(5).fill('redirect'));
    expect(target.requests).toHaveLength(0);
  });

  it('counts a timeout and a refused connection as failures', async () => {
    const hanging = await receiver();
    hanging.respond = () => 'hang';
    const slow = await stack.createSubscriber(clinic.id, hanging.url);
    const refused = await stack.createSubscriber(clinic.id, `http://127.0.0.1:${await freePort()}/hook`);
    await sendShipment(stack, clinic.apiKey, 'timeout-1');
    const [t] = await waitForDeliveries(stack, slow.id, 'dead');
    const [r] = await waitForDeliveries(stack, refused.id, 'dead');
    const timeouts = await attemptsOf(stack, t.id);
    expect(timeouts.map((a) => a.outcome)).toEqual(Array(5).fill('timeout'));
    expect(timeouts.every((a) => a.duration_ms < 1_000)).toBe(true);
    expect((await attemptsOf(stack, r.id)).map((a) => a.outcome)).toEqual(Array(5).fill('network_error'));
  });

  it.each([429, 503])('honours Retry-After of a %i within the schedule bounds', async (status) => {
    const busy = await receiver();
    // 30 s asked: far past the longest step, so the cap shows whatever a busy machine adds to the wait.
    busy.respond = (_req, i) => (i === 0 ? { status, headers: { 'retry-after': '30' } } : i === 1 ? { status, headers: { 'retry-after': '0' } } : { status: 200 });
    const sub = await stack.createSubscriber(clinic.id, busy.url);
    await sendShipment(stack, clinic.apiKey, `busy-${status}`);
    await waitForDeliveries(stack, sub.id, 'succeeded');
    const at = offsets(busy.requests.map((r) => r.at));
    // 30 s asked, capped at the longest step (400 ms), never sooner than the step itself (100 ms, then 200 ms).
    // (With 1 s asked and a bound of 900 ms, a CI run under load read 1,136 ms.)
    expect(at[1]).toBeGreaterThanOrEqual(395);
    expect(at[1]).toBeLessThan(5_000);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(195);
  });

  it('disables a subscriber that answers 410, parks its deliveries, and delivers them in order on re-enable', async () => {
    const gone = await receiver();
    gone.respond = () => ({ status: 410 });
    // One at a time, so "in order" is the order of arrival, not a race between parallel requests.
    const sub = await stack.createSubscriber(clinic.id, gone.url, { max_in_flight: 1 });
    await sendShipment(stack, clinic.apiKey, 'gone-0');
    await waitForDeliveries(stack, sub.id, 'parked');
    const got = await stack.admin('GET', `/api/external/webhook/${sub.id}`);
    expect(got.body.data ?? got.body).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining('410') });
    for (const i of [1, 2, 3]) await sendShipment(stack, clinic.apiKey, `gone-${i}`);
    await waitForDeliveries(stack, sub.id, 'parked', 4);
    expect(gone.requests).toHaveLength(1);

    gone.respond = () => ({ status: 200 });
    const patched = await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { enabled: true });
    expect(patched.status).toBe(200);
    await waitForDeliveries(stack, sub.id, 'succeeded', 4);
    const order = gone.requests.slice(1).map((r) => JSON.parse(r.body).subject);
    expect(order).toEqual(['gone-0', 'gone-1', 'gone-2', 'gone-3']);
  });
});
