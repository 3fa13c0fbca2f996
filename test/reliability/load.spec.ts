import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { Ledger, report } from './support/ledger';
import { FULL, scaled, FULL_TIMEOUT } from './support/mode';
import { pool, sendUntilAccepted, shipment } from './support/sender';

/**
 * Scenario 8: load. Three clinics, several subscribers each, every subscriber failing 1 % of its requests
 * at random (500, retried) and one subscriber per clinic failing always (dead-lettered). The ledger must
 * reconcile to 0 lost and 0 cross-tenant deliveries. RELIABILITY_EVENTS sets the size of the full run.
 */
describe('reliability: load across three clinics', () => {
  let stack: TestStack;
  const receivers: TestReceiver[] = [];

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {
      RETRY_SCHEDULE: '100ms,200ms,400ms',
      RETRY_JITTER: '0.2',
      DELIVERY_TIMEOUT: '5s',
      DATABASE_POOL_SIZE: '10',
    });
  });

  afterAll(async () => {
    await stack?.stop();
    for (const r of receivers) await r.stop();
  });

  it('reconciles to 0 lost with 1 % of deliveries failing', async () => {
    const total = scaled(200, 3_000);
    const ledger = new Ledger(`load: 3 clinics x 4 subscribers (3 failing 1 %, 1 always)${FULL ? '' : ' (short)'}`);
    const clinics: Array<{ id: string; apiKey: string }> = [];
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (const name of ['Load clinic A', 'Load clinic B', 'Load clinic C']) {
      const c = await stack.createClinic(name);
      clinics.push(c);
      for (let k = 0; k < 3; k++) {
        const r = await new TestReceiver().start();
        receivers.push(r);
        const s = await stack.createSubscriber(c.id, r.url);
        ledger.track(r, c.id, s.id, () => (random() < 0.01 ? { status: 500, body: 'flaky' } : { status: 200, body: '{}' }));
      }
      const dead = await new TestReceiver().start();
      receivers.push(dead);
      const ds = await stack.createSubscriber(c.id, dead.url);
      ledger.track(dead, c.id, ds.id, () => ({ status: 503, body: 'down' }));
    }
    const t0 = Date.now();
    await pool(Array.from({ length: total }, (_, i) => i), 32, async (i) => {
      await sendUntilAccepted(ledger, () => stack.ingressUrl, clinics[i % 3]!, shipment(`load-${i}`));
    });
    const ingestS = (Date.now() - t0) / 1000;
    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, FULL ? 300_000 : 60_000);
    const totalS = (Date.now() - t0) / 1000;
    process.stdout.write(`load: ${total} events accepted in ${ingestS.toFixed(1)} s (${(total / ingestS).toFixed(0)}/s), reconciled after ${totalS.toFixed(1)} s\n`);
    report(row);
    expect(row).toMatchObject({ accepted: total, lost: 0, crossTenant: 0, expected: total * 4 });
  }, FULL_TIMEOUT);
});
