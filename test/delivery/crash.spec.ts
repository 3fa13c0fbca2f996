import type { ChildProcess } from 'node:child_process';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { kill9, spawnFanout as spawnChild } from '../support/fanout-process';
import { deliveriesOf, sendShipment, waitForDeliveries } from './delivery-support';

const spawnFanout = (stack: TestStack) => spawnChild(stack.config);

/** kill -9 of fan-out in the middle of an attempt: after a restart the delivery still lands, same webhook-id. */
describe('fan-out crash mid-delivery', () => {
  let stack: TestStack;
  const receiver = new TestReceiver();
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    stack = await TestStack.start(
      __filename,
      { DELIVERY_LEASE: '1s', DELIVERY_TIMEOUT: '30s', RETRY_JITTER: '0', DELIVERY_FAST_PATH_WAIT: '300ms', FANOUT_ACK_WAIT: '2s' },
      ['dedupe', 'ingress', 'admin'],
    );
    await receiver.start();
  });

  afterAll(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    await stack?.stop();
    await receiver.stop();
  });

  it('delivers after kill -9 before the event was stored: the unacknowledged message comes back', async () => {
    receiver.respond = (_req, i) => (i === 0 ? 'hang' : { status: 200 });
    const clinic = await stack.createClinic('Early crash clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    const first = await spawnFanout(stack);
    children.push(first);

    await sendShipment(stack, clinic.apiKey, 'crash-early');
    await receiver.waitFor(1);
    await kill9(first); // inside DELIVERY_FAST_PATH_WAIT: nothing stored, nothing acknowledged
    expect(await deliveriesOf(stack, sub.id)).toEqual([]);

    const t0 = Date.now();
    children.push(await spawnFanout(stack));
    await waitForDeliveries(stack, sub.id, 'succeeded', 1, 20_000);
    // eslint-disable-next-line no-console
    console.log(`redelivered ${receiver.requests[1]!.at - t0} ms after the restart began (FANOUT_ACK_WAIT ran out)`);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.headers['webhook-id']).toBe(receiver.requests[0]!.headers['webhook-id']);
  });

  it('delivers after kill -9 once the delivery was stored under way: its lease runs out', async () => {
    const before = receiver.requests.length;
    receiver.respond = (_req, i) => (i === before ? 'hang' : { status: 200 });
    const clinic = await stack.createClinic('Crash clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);

    await sendShipment(stack, clinic.apiKey, 'crash-1');
    await receiver.waitFor(before + 1);
    // The first attempt outlasts DELIVERY_FAST_PATH_WAIT: the event is stored with it `delivering`, under this process's lease.
    await waitForDeliveries(stack, sub.id, 'delivering');
    await kill9(children[children.length - 1]!);

    const t0 = Date.now();
    children.push(await spawnFanout(stack));
    await waitForDeliveries(stack, sub.id, 'succeeded', 1, 20_000);
    const mine = receiver.requests.slice(before);
    // eslint-disable-next-line no-console
    console.log(`redelivered ${mine[1]!.at - t0} ms after the restart began (the lease ran out)`);
    expect(mine).toHaveLength(2);
    expect(mine[1]!.headers['webhook-id']).toBe(mine[0]!.headers['webhook-id']);
  });

  it('keeps the lease of an attempt that outlasts it: two live fan-outs, one request', async () => {
    // The restarted fan-out of the test above is still running; a second one joins it.
    children.push(await spawnFanout(stack));
    const before = receiver.requests.length;
    receiver.respond = () => ({ status: 200, delayMs: 3_000 });
    const clinic = await stack.createClinic('Slow clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    await sendShipment(stack, clinic.apiKey, 'slow-1');
    await waitForDeliveries(stack, sub.id, 'succeeded', 1, 15_000);
    expect(receiver.requests.length - before).toBe(1);
  });
});
