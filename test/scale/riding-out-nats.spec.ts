import { jetstreamManager } from '@nats-io/jetstream';
import { subjectsFor } from '@switchyard/contracts';
import { scrapeFirstAttempts } from '../../bench/lib/stages';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { freePort } from '../support/free-port';
import { PrivateNats } from '../support/private-nats';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

/**
 * Ingress and fan-out ride out NATS (issue 13, item 3): they start while NATS is down — on a NATS that
 * has never seen set-up — report not-ready naming nats instead of exiting, and work once it is there;
 * fan-out's consumer comes back after a server crash, and after its consumer or stream is deleted under it
 * (svix-webhooks #1844), without a restart. Deliveries are asserted, not their speed.
 */
describe('riding out NATS', () => {
  let nats: PrivateNats;
  let stack: TestStack;
  let receiver: TestReceiver;
  let clinic: { id: string; apiKey: string };
  let fanoutPort: number;
  const subjects = () => subjectsFor(stack.config.NATS_PREFIX);

  const readyz = async (url: string) => {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
  };
  const fanoutUrl = () => `http://127.0.0.1:${fanoutPort}`;

  /** Sends like Nimbus: again until a 200 (503 while NATS or the stream is not there). */
  const sendUntilAccepted = async (shipmentId: string) => {
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = shipmentId;
    return eventually(async () => {
      const res = await stack.send(clinic.apiKey, body);
      return res.status === 200 && res;
    }, 30_000, `ingress to accept ${shipmentId}`);
  };
  const highestStreamSeq = async () => Number((await stack.db.query(`SELECT max(stream_seq)::text AS seq FROM events`))[0].seq);
  const delivered = (shipmentId: string) => receiver.requests.filter((r) => JSON.parse(r.body).subject === shipmentId);

  beforeAll(async () => {
    nats = await new PrivateNats().start();
    fanoutPort = await freePort();
    stack = await TestStack.start(__filename, { NATS_URL: nats.url, PUBLISH_TIMEOUT: '1s', FANOUT_HTTP_PORT: String(fanoutPort) }, ['dedupe', 'admin']);
    receiver = await new TestReceiver().start();
    clinic = await stack.createClinic();
    await stack.createSubscriber(clinic.id, receiver.url);
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
    await nats?.destroy();
  });

  it('starts ingress and fan-out while NATS is down, not ready (nats), and serves once a brand-new NATS is up', async () => {
    // A NATS that never saw set-up: no stream, no consumer.
    await nats.wipe();
    await expect(stack.startApp('ingress')).resolves.toBeUndefined();
    await expect(stack.startApp('fanout')).resolves.toBeUndefined();

    for (const url of [stack.ingressOpsUrl, fanoutUrl()]) {
      const r = await readyz(url);
      expect(r.status).toBe(503);
      expect(r.body.checks.nats).toBe(false);
    }
    const during = await stack.send(clinic.apiKey, clone(nimbusFixtures['shipment:created']));
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toMatch(/^\d+$/);

    await nats.start();
    await eventually(async () => (await readyz(stack.ingressOpsUrl)).status === 200, 20_000, 'ingress ready');
    // Fan-out created the stream and its consumer itself.
    await eventually(async () => (await readyz(fanoutUrl())).status === 200, 20_000, 'fan-out ready');
    // (Asked again while the test's own connection may still be reconnecting to the new server.)
    await eventually(async () => (await stack.storedMessages()) === 0, 20_000, 'an empty stream');

    await sendUntilAccepted('after-cold-start');
    await receiver.waitFor(1, 20_000);
    expect(delivered('after-cold-start')).toHaveLength(1);
  });

  it('keeps consuming after the NATS server is killed and restarted under a running fan-out', async () => {
    await nats.stop(); // SIGKILL
    await eventually(async () => (await readyz(fanoutUrl())).status === 503, 10_000, 'fan-out not ready while NATS is down');
    await new Promise((r) => setTimeout(r, 1_000));
    await nats.start();

    await sendUntilAccepted('after-restart');
    await eventually(() => delivered('after-restart').length === 1, 30_000, 'the delivery after the restart');
    await eventually(async () => (await readyz(fanoutUrl())).status === 200, 10_000, 'fan-out ready again');
  });

  it('svix-webhooks#1844: re-creates its consumer when it is deleted under it, and delivers without doubling old events', async () => {
    // The test's own connection may still be reconnecting to the server the last test restarted (a request made
    // meanwhile timed out once under the full suite): the delete is made once it answers.
    const jsm = await eventually(async () => {
      const m = await jetstreamManager(stack.nc).catch(() => null);
      return m && (await m.consumers.info(subjects().inboundStream, subjects().fanoutConsumer).then(() => m, () => null));
    }, 20_000, "the test's connection answering again");
    await expect(jsm.consumers.delete(subjects().inboundStream, subjects().fanoutConsumer)).resolves.toBe(true);

    await sendUntilAccepted('after-consumer-deleted');
    await eventually(() => delivered('after-consumer-deleted').length === 1, 30_000, 'the delivery after the consumer was deleted');
    await expect(jsm.consumers.info(subjects().inboundStream, subjects().fanoutConsumer)).resolves.toMatchObject({ config: { durable_name: subjects().fanoutConsumer } });
    // The new consumer starts from the stream's first message again: stored events are not delivered twice.
    expect(delivered('after-cold-start')).toHaveLength(1);
    expect(delivered('after-restart')).toHaveLength(1);
  });

  it('svix-webhooks#1844: a fan-out that starts after its consumer was re-created from the stream\'s start sends no old event again', async () => {
    const before = receiver.requests.length;
    const stored = (await stack.db.query(`SELECT count(*)::int AS n FROM events`))[0].n as number;
    expect(stored).toBeGreaterThan(0);
    await stack.stopApp('fanout');
    const jsm = await jetstreamManager(stack.nc);
    await jsm.consumers.delete(subjects().inboundStream, subjects().fanoutConsumer);
    await stack.startApp('fanout'); // re-creates the consumer, which hands out every stored message again, each "for the first time"
    await sendUntilAccepted('after-recreate-and-restart');
    await eventually(() => delivered('after-recreate-and-restart').length === 1, 30_000, 'the new event');
    // Every old message came back and was found stored: not one of them reached the receiver again.
    await eventually(async () => (await jsm.consumers.info(subjects().inboundStream, subjects().fanoutConsumer)).num_ack_pending === 0, 10_000, 'the replay acknowledged');
    expect(receiver.requests.slice(before).map((r) => JSON.parse(r.body).subject)).toEqual(['after-recreate-and-restart']);
  });

  it('svix-webhooks#1844: re-creates the stream when it is deleted under a running fan-out; ingress answers 503 meanwhile, then accepts', async () => {
    const firstAttempts = () => scrapeFirstAttempts([`${fanoutUrl()}/metrics`]);
    const storedThrough = await highestStreamSeq();
    expect(storedThrough).toBeGreaterThan(0);
    const before = await firstAttempts();
    const jsm = await jetstreamManager(stack.nc);
    await expect(jsm.streams.delete(subjects().inboundStream)).resolves.toBe(true);

    await sendUntilAccepted('after-stream-deleted');
    await eventually(() => delivered('after-stream-deleted').length === 1, 30_000, 'the delivery after the stream was deleted');
    await expect(jsm.streams.info(subjects().inboundStream)).resolves.toMatchObject({ config: { name: subjects().inboundStream } });
    await eventually(async () => (await readyz(fanoutUrl())).status === 200, 10_000, 'fan-out ready');
    // The new stream numbers on past the stored events (not from 1 again): the new event comes after them in
    // stream order, and is delivered straight from its message, not held back as a possible redelivery.
    await expect(highestStreamSeq()).resolves.toBe(storedThrough + 1);
    const after = await firstAttempts();
    expect((after.direct ?? 0) - (before.direct ?? 0)).toBe(1);
    expect(after.queued ?? 0).toBe(before.queued ?? 0);
  });
});
