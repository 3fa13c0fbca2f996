import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { sendShipment, waitForDeliveries } from './delivery-support';

const ROOT = join(__dirname, '..', '..');

/** Fan-out as a real child process on the stack's schema and NATS prefix; resolves once it has started. */
function spawnFanout(stack: TestStack): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'test/support/fanout-child.ts'], {
    cwd: ROOT,
    env: { ...process.env, SWITCHYARD_TEST_CONFIG: JSON.stringify(stack.config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fan-out child did not start in 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`fan-out child exited with ${code} before it was ready`)));
  });
}

/** kill -9 of fan-out in the middle of an attempt: after a restart the delivery still lands, same webhook-id. */
describe('fan-out crash mid-delivery', () => {
  let stack: TestStack;
  const receiver = new TestReceiver();
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The shortest lease the config accepts (twice the longest attempt), so a crashed worker's delivery comes back quickly.
    stack = await TestStack.start(__filename, { DELIVERY_LEASE: '2s', DELIVERY_TIMEOUT: '1s', CLINIC_MAX_TIMEOUT: '1s', RETRY_JITTER: '0' }, ['dedupe', 'ingress', 'admin']);
    await receiver.start();
  });

  afterAll(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    await stack?.stop();
    await receiver.stop();
  });

  it('delivers after kill -9 and restart, with the same webhook-id', async () => {
    receiver.respond = (_req, i) => (i === 0 ? 'hang' : { status: 200 });
    const clinic = await stack.createClinic('Crash clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    const first = await spawnFanout(stack);
    children.push(first);

    await sendShipment(stack, clinic.apiKey, 'crash-1');
    await receiver.waitFor(1);
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;
    await waitForDeliveries(stack, sub.id, 'delivering');

    const t0 = Date.now();
    children.push(await spawnFanout(stack));
    await receiver.waitFor(2, 20_000);
    await waitForDeliveries(stack, sub.id, 'succeeded');
    // eslint-disable-next-line no-console
    console.log(`redelivered ${receiver.requests[1].at - t0} ms after the restart began`);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1].headers['webhook-id']).toBe(receiver.requests[0].headers['webhook-id']);
  });

  it('takes a slow attempt once: two live fan-outs, one request', async () => {
    // The restarted fan-out of the test above is still running; a second one joins it.
    children.push(await spawnFanout(stack));
    const before = receiver.requests.length;
    receiver.respond = () => ({ status: 200, delayMs: 800 }); // near the 1 s timeout; the 2 s lease outlasts it (config refuses less)
    const clinic = await stack.createClinic('Slow clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    await sendShipment(stack, clinic.apiKey, 'slow-1');
    await waitForDeliveries(stack, sub.id, 'succeeded', 1, 15_000);
    expect(receiver.requests.length - before).toBe(1);
  });
});
