import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';
import { Ledger, report } from './support/ledger';
import { pool, sendUntilAccepted, shipment } from './support/sender';

/** A loopback HTTP server with one behaviour; counts the requests it saw. */
async function hostile(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) {
  const state = { hits: 0, server: undefined as unknown as Server };
  state.server = createServer((req, res) => {
    state.hits++;
    req.resume();
    handler(req, res);
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/hook`;
  return {
    state,
    url,
    stop: async () => {
      state.server.closeAllConnections();
      await new Promise((r) => state.server.close(r));
    },
  };
}

/**
 * Scenario 7: receivers that always answer 500, hang, trickle, answer 100 MB, redirect to a canary or reset
 * the connection. Their deliveries end dead-lettered after the (tiny) retry schedule, the canary is never
 * hit, a healthy subscriber of the same clinic gets everything, and the process stays healthy.
 */
describe('reliability: hostile receivers', () => {
  let stack: TestStack;
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { RETRY_SCHEDULE: '50ms,50ms', RETRY_JITTER: '0', DELIVERY_TIMEOUT: '300ms', DELIVERY_CONNECT_TIMEOUT: '200ms' });
  });

  afterAll(async () => {
    for (const s of stops) await s().catch(() => undefined);
    await stack?.stop();
  });

  it('dead-letters what hostile receivers never take, never follows a redirect, delivers to the healthy one', async () => {
    const ledger = new Ledger('hostile receivers (500, hang, trickle, 100 MB, redirect, reset)');
    const clinic = await stack.createClinic('Hostile receivers clinic');
    const canary = await hostile((_req, res) => res.end('canary'));
    stops.push(canary.stop);
    const timers = new Set<NodeJS.Timeout>();
    const behaviours: Record<string, Awaited<ReturnType<typeof hostile>>> = {
      '500': await hostile((_req, res) => res.writeHead(500).end('no')),
      hang: await hostile(() => undefined),
      // The answer's head trickles in one byte at a time and never ends: no complete answer within the timeout.
      trickle: await hostile((req) => {
        const head = 'HTTP/1.1 200 OK\r\nX-Slow: ';
        let i = 0;
        const t = setInterval(() => (req.socket.destroyed ? (clearInterval(t), timers.delete(t)) : req.socket.write(head[i++] ?? 'a')), 50);
        timers.add(t);
      }),
      '100 MB': await hostile((_req, res) => {
        res.writeHead(500, { 'content-length': String(100 * 1024 * 1024) });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let sent = 0;
        const pump = () => {
          while (sent < 100 * 1024 * 1024 && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      }),
      redirect: await hostile((_req, res) => res.writeHead(307, { location: canary.url }).end()),
      reset: await hostile((req) => req.socket.resetAndDestroy()),
    };
    stops.push(async () => timers.forEach(clearInterval));
    for (const b of Object.values(behaviours)) {
      stops.push(b.stop);
      const sub = await stack.createSubscriber(clinic.id, b.url);
      ledger.expectSubscriber(clinic.id, sub.id);
    }
    const healthy = await new TestReceiver().start();
    stops.push(() => healthy.stop());
    ledger.track(healthy, clinic.id, (await stack.createSubscriber(clinic.id, healthy.url)).id);

    const n = 20;
    const rss0 = process.memoryUsage().rss;
    await pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
      await sendUntilAccepted(ledger, () => stack.ingressUrl, clinic, shipment(`hostile-${i}`));
    });
    // The healthy subscriber is not held up by the others.
    await healthy.waitFor(n, 10_000);
    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 45_000);
    report(row);
    const byUrl = Object.fromEntries(Object.entries(behaviours).map(([k, b]) => [b.url, k]));
    const states: Array<{ url: string; status: string; attempts: number; n: string }> = await stack.db.query(
      `SELECT s.url, d.status, d.attempt_count AS attempts, count(*) AS n FROM "${stack.config.DATABASE_SCHEMA}".deliveries d
         JOIN "${stack.config.DATABASE_SCHEMA}".subscribers s ON s.id = d.subscriber_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    );
    process.stdout.write(`hostile receivers: ${JSON.stringify(states.map((r) => ({ ...r, url: byUrl[r.url] ?? 'healthy' })))}\n`);
    process.stdout.write(`hits: ${JSON.stringify(Object.fromEntries(Object.entries(behaviours).map(([k, b]) => [k, b.state.hits])))}\n`);
    expect(row).toMatchObject({ accepted: n, lost: 0, crossTenant: 0, delivered: n, deadLettered: n * Object.keys(behaviours).length });
    expect(canary.state.hits).toBe(0);
    // Every hostile delivery was attempted 3 times (first attempt + the two retries) and then dead-lettered.
    // A receiver may see fewer requests than attempts: on a loaded machine a connect can time out first.
    expect(states.filter((r) => byUrl[r.url]).map((r) => [byUrl[r.url], r.status, r.attempts]).sort()).toEqual(
      Object.keys(behaviours).map((k) => [k, 'dead', 3]).sort(),
    );
    for (const b of Object.values(behaviours)) expect(b.state.hits).toBeLessThanOrEqual(n * 3);
    const attempts: Array<{ outcome: string; n: string }> = await stack.db.query(
      `SELECT outcome, count(*) AS n FROM "${stack.config.DATABASE_SCHEMA}".delivery_attempts GROUP BY outcome ORDER BY outcome`,
    );
    process.stdout.write(`hostile receivers: attempts by outcome ${JSON.stringify(attempts)}\n`);
    expect((await fetch(`${stack.ingressOpsUrl}/healthz`)).status).toBe(200);
    // 100 MB answers were not buffered: memory grew by far less than one of them.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 1024 * 1024);
  });
});
