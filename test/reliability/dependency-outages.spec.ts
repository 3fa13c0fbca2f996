import { jetstreamManager } from '@nats-io/jetstream';
import { subjectsFor } from '@switchyard/contracts';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { Ledger, report } from './support/ledger';
import { post, sendUntilAccepted, shipment } from './support/sender';

/**
 * Scenarios 3 and 5: the dedupe service stopped, and a full inbound stream. Either way the ingress answers
 * 503 with Retry-After (never 200 for an event it did not store), and once the dependency is back every
 * event the sender retried is accepted and delivered.
 */
describe('reliability: dedupe stopped, stream full', () => {
  let stack: TestStack;
  let receiver: TestReceiver;
  let clinic: { id: string; apiKey: string };
  let sub: { id: string };

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { STREAM_MAX_BYTES: String(64 * 1024), DEDUPE_TIMEOUT: '500ms' });
    receiver = await new TestReceiver().start();
    clinic = await stack.createClinic('Outage clinic');
    sub = await stack.createSubscriber(clinic.id, receiver.url);
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  it('dedupe stopped: 503 with Retry-After; after a restart the retries are accepted and delivered', async () => {
    const ledger = new Ledger('dedupe service stopped');
    ledger.track(receiver, clinic.id, sub.id);
    const before = await stack.storedMessages();
    await stack.stopApp('dedupe');
    for (let i = 0; i < 5; i++) {
      ledger.sent++;
      const a = await post(stack.ingressUrl, clinic.apiKey, shipment(`dedupe-down-${i}`));
      ledger.recordAnswer(clinic.id, a.status, a.body);
      expect(a.status).toBe(503);
      expect(Number(a.headers!.get('retry-after'))).toBeGreaterThan(0);
      expect(a.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    }
    expect(await stack.storedMessages()).toBe(before);
    expect((await fetch(`${stack.ingressOpsUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${stack.ingressOpsUrl}/healthz`)).status).toBe(200);

    const restart = new Promise((r) => setTimeout(r, 1_000)).then(() => stack.startApp('dedupe'));
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) =>
        sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`dedupe-down-${i}`), { retryDelayMs: 200, deadlineMs: 20_000 }),
      ),
      restart,
    ]);
    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 20_000);
    report(row);
    expect(row).toMatchObject({ accepted: 5, lost: 0, crossTenant: 0, delivered: 5 });
  });

  it('stream full: 503 not 200, and accepted again once there is room', async () => {
    const ledger = new Ledger('inbound stream full (64 KiB, discard new)');
    ledger.track(receiver, clinic.id, sub.id);
    // Fill the stream: each event is ~1 KiB.
    const answers: number[] = [];
    let i = 0;
    for (; i < 200; i++) {
      ledger.sent++;
      const a = await post(stack.ingressUrl, clinic.apiKey, shipment(`fill-${i}`));
      ledger.recordAnswer(clinic.id, a.status, a.body);
      answers.push(a.status);
      if (a.status === 503) {
        expect(Number(a.headers!.get('retry-after'))).toBeGreaterThan(0);
        break;
      }
      expect(a.status).toBe(200);
    }
    expect(answers.at(-1)).toBe(503);
    // Still full: the same and other events keep getting 503, never 200.
    for (let k = 0; k < 3; k++) {
      ledger.sent++;
      const a = await post(stack.ingressUrl, clinic.apiKey, shipment(`fill-more-${k}`));
      ledger.recordAnswer(clinic.id, a.status, a.body);
      expect(a.status).toBe(503);
    }
    // Make room (operators raise the limit or purge what fan-out has consumed) while the sender retries.
    const jsm = await jetstreamManager(stack.nc);
    const name = subjectsFor(stack.config.NATS_PREFIX).inboundStream;
    const room = new Promise((r) => setTimeout(r, 1_000)).then(async () => {
      const info = await jsm.streams.info(name);
      await jsm.streams.update(name, { ...info.config, max_bytes: 1024 * 1024 });
    });
    await Promise.all([
      sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`fill-${i}`), { deadlineMs: 20_000 }),
      ...Array.from({ length: 3 }, (_, k) => sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`fill-more-${k}`), { deadlineMs: 20_000 })),
      room,
    ]);
    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 20_000);
    report(row);
    expect(row).toMatchObject({ lost: 0, crossTenant: 0 });
    expect(row.accepted).toBe(i + 4);
  });
});
