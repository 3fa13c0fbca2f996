import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { Ledger, report } from './support/ledger';
import { PrivateNats } from '../support/private-nats';
import { Answer, poolWhile, sendUntilAccepted, shipment } from './support/sender';
import { FULL, scaled, FULL_TIMEOUT } from './support/mode';

/**
 * Scenario 1: a private `nats-server -js` killed (SIGKILL) and restarted under load. While it is down the
 * ingress answers 503 (never 200 without a PubAck); the sender retries like Nimbus; after the restart
 * everything accepted is delivered.
 */
describe('reliability: NATS killed and restarted under load', () => {
  let nats: PrivateNats;
  let stack: TestStack;
  const receivers: TestReceiver[] = [];
  const clinics: Array<{ id: string; apiKey: string }> = [];
  const ledger = new Ledger(`NATS kill -9 + restart under load${FULL ? '' : ' (short)'}`);

  beforeAll(async () => {
    nats = await new PrivateNats().start();
    stack = await TestStack.start(__filename, { NATS_URL: nats.url, PUBLISH_TIMEOUT: '1s' });
    for (const name of ['NATS clinic A', 'NATS clinic B']) {
      const c = await stack.createClinic(name);
      const r = await new TestReceiver().start();
      const s = await stack.createSubscriber(c.id, r.url);
      ledger.track(r, c.id, s.id);
      clinics.push(c);
      receivers.push(r);
    }
  });

  afterAll(async () => {
    await stack?.stop().catch(() => undefined);
    for (const r of receivers) await r.stop();
    await nats?.destroy();
  });

  it('answers 503 while NATS is down and delivers everything accepted after it is back', async () => {
    const total = scaled(200, 3_000);
    const down = { from: 0, to: 0 };
    const during: Answer[] = [];
    let readyWhileDown = 0;
    const onAnswer = (a: Answer) => {
      if (down.from && a.startedAt > down.from && (!down.to || a.endedAt < down.to)) during.push(a);
    };
    const outage = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      await nats.stop(); // SIGKILL: no goodbye to clients
      down.from = Date.now();
      await new Promise((r) => setTimeout(r, 1_500));
      readyWhileDown = (await fetch(`${stack.ingressOpsUrl}/readyz`)).status;
      await new Promise((r) => setTimeout(r, 1_500));
      down.to = Date.now();
      await nats.start();
    })();
    // At least `total` events, and new ones until NATS is back: on a fast machine 200 were all accepted before the kill.
    const [sent] = await Promise.all([
      poolWhile(16, (next) => next < total || !down.to, async (i) => {
        const clinic = clinics[i % clinics.length]!;
        await sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`nats-${i}`), { retryDelayMs: 250, deadlineMs: 90_000 }, onAnswer);
      }),
      outage,
    ]);
    expect(readyWhileDown).toBe(503);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((a) => a.status === 200)).toEqual([]);
    expect(during.every((a) => a.status === 503)).toBe(true);

    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 60_000);
    report(row);
    expect(row).toMatchObject({ accepted: sent, lost: 0, crossTenant: 0 });
  }, FULL_TIMEOUT);
});
