import type { AppConfig } from '@switchyard/config';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { Ledger, report } from './support/ledger';
import { Answer, pool, post, sendUntilAccepted, shipment } from './support/sender';
import { TcpProxy } from './support/tcp-proxy';
import { itFull } from './support/mode';
import { TEST_DATABASE_URL } from '../support/database';

const PG = new URL(TEST_DATABASE_URL);
const through = (proxy: TcpProxy) => proxy.urlTo(PG.toString());

/**
 * Scenario 4: Postgres unreachable for a while, through a TCP proxy the test controls ("unplug" resets
 * every connection and refuses new ones). The ingress answers 503 with Retry-After (never a 401 or a 500)
 * while it cannot authenticate or claim; a fan-out whose database is gone keeps the events in JetStream
 * (once it has seen a store fail) and drains the backlog after the database is back.
 */
describe('reliability: Postgres unplugged', () => {
  let stack: TestStack;
  let core: TcpProxy;
  let fanoutDb: TcpProxy;
  let receiver: TestReceiver;
  let clinic: { id: string; apiKey: string };
  let sub: { id: string };

  beforeAll(async () => {
    core = await new TcpProxy(PG.hostname, Number(PG.port || 5432)).start();
    fanoutDb = await new TcpProxy(PG.hostname, Number(PG.port || 5432)).start();
    stack = await TestStack.start(
      __filename,
      { DATABASE_URL: through(core), AUTH_CACHE_TTL: '200ms', DEDUPE_TIMEOUT: '1s', DELIVERY_LEASE: '5s', DELIVERY_TIMEOUT: '2s', CLINIC_MAX_TIMEOUT: '2s' },
      ['dedupe', 'ingress', 'admin'],
    );
    (stack.config as { DATABASE_URL: string }).DATABASE_URL = through(fanoutDb);
    await stack.startApp('fanout');
    (stack.config as AppConfig & { DATABASE_URL: string }).DATABASE_URL = through(core);
    receiver = await new TestReceiver().start();
    clinic = await stack.createClinic('Postgres outage clinic');
    sub = await stack.createSubscriber(clinic.id, receiver.url);
  });

  afterAll(async () => {
    core?.plug();
    fanoutDb?.plug();
    await stack?.stop();
    await receiver?.stop();
    await core?.stop();
    await fanoutDb?.stop();
  });

  itFull('ingress answers 503 with Retry-After while Postgres is unplugged, and everything retried is delivered after', async () => {
    const ledger = new Ledger('Postgres unplugged (all apps)');
    ledger.track(receiver, clinic.id, sub.id);
    await sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment('pg-warm'));

    core.unplug();
    fanoutDb.unplug();
    const during: Answer[] = [];
    const unpluggedAt = Date.now();
    const outage = new Promise((r) => setTimeout(r, 4_000)).then(() => {
      core.plug();
      fanoutDb.plug();
      return Date.now();
    });
    let pluggedAt = 0;
    void outage.then((t) => (pluggedAt = t));
    await Promise.all([
      pool(Array.from({ length: 20 }, (_, i) => i), 5, async (i) => {
        await sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`pg-down-${i}`), { retryDelayMs: 300, deadlineMs: 40_000 }, (a) => {
          if (a.startedAt > unpluggedAt && (!pluggedAt || a.endedAt < pluggedAt)) during.push(a);
        });
      }),
      outage,
    ]);
    const statuses = [...new Set(during.map((a) => a.status))];
    expect(during.length).toBeGreaterThan(0);
    expect(statuses).toEqual([503]);
    expect(during.every((a) => Number(a.headers?.get('retry-after')) > 0)).toBe(true);
    expect((await fetch(`${stack.ingressOpsUrl}/healthz`)).status).toBe(200);

    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 30_000);
    report(row);
    expect(row).toMatchObject({ accepted: 21, lost: 0, crossTenant: 0 });
  });

  itFull('fan-out without its database: once a store has failed, events wait in JetStream; the backlog drains after reconnect', async () => {
    const ledger = new Ledger('Postgres unplugged (fan-out only): backlog drains');
    ledger.track(receiver, clinic.id, sub.id);
    fanoutDb.unplug();
    // Fan-out attempts an event straight from its message and stores it after, so the first event after its
    // database went away may go out before its store fails (and again once stored: at-least-once). From that
    // failure on, it attempts nothing before storing it.
    await sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment('fanout-pg-down-first'), { deadlineMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    const first = ledger.accepted.size;
    await pool(Array.from({ length: 50 }, (_, i) => i), 10, async (i) => {
      const answers = await sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`fanout-pg-down-${i}`), { deadlineMs: 10_000 });
      expect(answers.at(-1)?.status).toBe(200);
    });
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await ledger.reconcile(stack.db, stack.config.DATABASE_SCHEMA)).delivered).toBeLessThanOrEqual(first);
    fanoutDb.plug();
    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 30_000);
    report(row);
    expect(row).toMatchObject({ accepted: 51, delivered: 51, lost: 0, crossTenant: 0 });
  });
});
