import type { ChildProcess } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { subjectsFor } from '@switchyard/contracts';
import { startFanout } from '../../apps/fanout/src/main';
import { TcpProxy } from '../reliability/support/tcp-proxy';
import { kill9, spawnFanout } from '../support/fanout-process';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';
import { sendShipment, sendStatusChange, waitForDeliveries } from './delivery-support';

/**
 * The promises one fan-out process used to keep in memory, kept by several: three fan-out replicas share
 * one schema and one durable consumer, and coordinate only through Postgres and JetStream.
 */
describe('delivery guarantees across fan-out replicas', () => {
  let stack: TestStack;
  const replicas: Array<{ close(): Promise<void> }> = [];
  const children: ChildProcess[] = [];
  const proxy = new TcpProxy('127.0.0.1', 5432);

  beforeAll(async () => {
    await proxy.start();
    stack = await TestStack.start(
      __filename,
      { RETRY_SCHEDULE: '200ms,200ms', RETRY_JITTER: '0', FANOUT_ACK_WAIT: '2s', DELIVERY_FAST_PATH_WAIT: '100ms' },
      ['dedupe', 'ingress', 'admin'],
    );
  });

  afterAll(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    for (const r of replicas) await r.close().catch(() => undefined);
    await stack?.stop();
    await proxy.stop();
  });

  async function startReplicas(n: number): Promise<void> {
    while (replicas.length < n) replicas.push(await startFanout({ ...stack.config, FANOUT_HTTP_PORT: 0 }));
  }

  it('kills a fan-out holding an unstored message about an entity: a later change of that entity waits for it', async () => {
    const receiver = await new TestReceiver().start();
    try {
      const clinic = await stack.createClinic('Ordered across replicas');
      await stack.createSubscriber(clinic.id, receiver.url, { ordered: true });
      // Replica A reaches Postgres through a proxy; holding the proxy holds A between taking a message and storing it.
      const dbUrl = new URL(stack.config.DATABASE_URL);
      dbUrl.host = `127.0.0.1:${proxy.port}`;
      const a = await spawnFanout({ ...stack.config, DATABASE_URL: dbUrl.toString() });
      children.push(a);
      proxy.pause();
      await sendStatusChange(stack, clinic.apiKey, 'order-7', 'validated');
      const jsm = await jetstreamManager(stack.nc);
      const subjects = subjectsFor(stack.config.NATS_PREFIX);
      await eventually(async () => (await jsm.consumers.info(subjects.inboundStream, subjects.fanoutConsumer)).num_ack_pending === 1, 10_000, 'replica A to take the first change');
      await kill9(a);
      proxy.resume();

      // B takes the next change of the same order at once; A's change comes back to B only after FANOUT_ACK_WAIT.
      await startReplicas(1);
      await sendStatusChange(stack, clinic.apiKey, 'order-7', 'filled');
      await receiver.waitFor(2, 20_000);
      const seen = receiver.requests.map((r) => JSON.parse(r.body).data.status);
      // eslint-disable-next-line no-console
      console.log(`ordered across a killed replica: ${seen.join(' → ')}`);
      expect(seen).toEqual(['validated', 'filled']);
    } finally {
      await receiver.stop();
    }
  });

  it("never has more requests open to a subscriber than its max_in_flight, whichever replica sends them", async () => {
    await startReplicas(3);
    const receiver = await new TestReceiver().start();
    try {
      receiver.respond = () => ({ status: 200, delayMs: 100 });
      const clinic = await stack.createClinic('In-flight across replicas');
      const sub = await stack.createSubscriber(clinic.id, receiver.url, { max_in_flight: 2 });
      await Promise.all(Array.from({ length: 40 }, (_, i) => sendShipment(stack, clinic.apiKey, `replicas-inflight-${i}`)));
      await waitForDeliveries(stack, sub.id, 'succeeded', 40, 30_000);
      // eslint-disable-next-line no-console
      console.log(`3 replicas, max_in_flight 2: most requests open at once ${receiver.maxActive}`);
      expect(receiver.maxActive).toBeLessThanOrEqual(2);
      expect(receiver.maxActive).toBe(2);
    } finally {
      await receiver.stop();
    }
  });

  it('holds a subscriber to its rate_limit_per_second across replicas, without spending attempts', async () => {
    await startReplicas(3);
    const receiver = await new TestReceiver().start();
    try {
      const clinic = await stack.createClinic('Rate across replicas');
      const sub = await stack.createSubscriber(clinic.id, receiver.url, { rate_limit_per_second: 4 });
      await Promise.all(Array.from({ length: 16 }, (_, i) => sendShipment(stack, clinic.apiKey, `replicas-rate-${i}`)));
      const delivered = await waitForDeliveries(stack, sub.id, 'succeeded', 16, 30_000);
      const at = receiver.requests.map((r) => r.at).sort((x, y) => x - y);
      const most = (windowMs: number) => Math.max(...at.map((t) => at.filter((u) => u >= t && u < t + windowMs).length));
      // eslint-disable-next-line no-console
      console.log(`3 replicas, 4/s: 16 deliveries over ${at[at.length - 1]! - at[0]!} ms, most in one second ${most(1_000)}, in two ${most(2_000)}`);
      // A bucket of 4 (one second's worth) refilled at 4/s: no window of w seconds sees more than 4 + 4·w.
      expect(most(1_000)).toBeLessThanOrEqual(8);
      expect(most(2_000)).toBeLessThanOrEqual(12);
      expect(delivered.every((d) => d.attempt_count === 1)).toBe(true);
    } finally {
      await receiver.stop();
    }
  });
});
