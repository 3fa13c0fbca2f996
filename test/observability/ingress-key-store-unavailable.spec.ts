/**
 * When ingress cannot look an API key up (its Postgres does not answer), it answers 503 with Retry-After,
 * and counts the event as `unavailable` with the reason `postgres`, beside `dedupe` and `jetstream`: the
 * runbook of SwitchyardIngressErrorRatioHigh sends the on-call engineer to
 * switchyard_ingress_events_total{result="unavailable"} by reason. Counted as `rejected` (the sender's
 * fault), those 503s had no cause in the place the runbook points at. Real Postgres: the key table is
 * locked by a transaction held open (as a migration would), so the lookup runs into its timeout.
 */
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { heldTransaction } from '../support/database';
import { TestStack } from '../support/stack';

function eventsReceived(text: string, result: string, reason: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('switchyard_ingress_events_total{')) continue;
    if (line.includes(`result="${result}"`) && line.includes(`reason="${reason}"`)) total += Number(line.split(' ').at(-1));
  }
  return total;
}

describe('ingress: the key store unavailable is counted as unavailable, not rejected', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['dedupe', 'ingress', 'admin']);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 503 and counts result="unavailable", reason="postgres"', async () => {
    const { apiKey } = await stack.createClinic();
    const lock = await heldTransaction(stack.config.DATABASE_SCHEMA, 'LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    let res: Awaited<ReturnType<TestStack['send']>>;
    try {
      res = await stack.send(apiKey, clone(nimbusFixtures['shipment:created']));
    } finally {
      await lock.commit();
    }
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);

    const metrics = await (await fetch(`${stack.ingressOpsUrl}/metrics`)).text();
    expect(eventsReceived(metrics, 'unavailable', 'postgres')).toBe(1);
    expect(eventsReceived(metrics, 'rejected', 'unavailable')).toBe(0);

    // The key store back: the same event is accepted.
    await expect(stack.send(apiKey, clone(nimbusFixtures['shipment:created']))).resolves.toMatchObject({ status: 200 });
  }, 20_000);
});
