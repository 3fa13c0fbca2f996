import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TcpProxy } from '../../../test/reliability/support/tcp-proxy';
import { TEST_DATABASE_URL } from '../../../test/support/database';
import { eventually } from '../../../test/support/eventually';
import { PgListener } from './pg-listener';

const PG = new URL(TEST_DATABASE_URL);
/** Scaled probe settings: a connection silent for PROBE_TIMEOUT_MS is given up. */
const PROBE_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 1_000; // far above a round trip on a loaded machine: only silence fails it

/**
 * The listening connection against a Postgres that goes silent without closing it (a failover's old primary
 * gone, a network that drops packets, a frozen host), behind a proxy whose open connections are held while
 * new ones get through. Nothing is emitted on such a connection: the listener used to believe it was
 * listening for good, and its watchers kept what they cached for as long as they trust notifications.
 */
describe('PgListener on a connection that goes silent', () => {
  let proxy: TcpProxy;
  let notifier: Client;
  const channel = `pg_listener_test_${randomBytes(4).toString('hex')}`;
  const stopping: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    notifier = new Client({ connectionString: TEST_DATABASE_URL, application_name: 'pg-listener-test' });
    await notifier.connect();
  });
  beforeEach(async () => {
    proxy = await new TcpProxy(PG.hostname, Number(PG.port || 5432)).start();
  });
  afterEach(async () => {
    await Promise.all(stopping.splice(0).map((stop) => stop()));
    await proxy.stop();
  });
  afterAll(() => notifier?.end());

  /** A listener through the proxy, recording what its watcher is told and the payloads it hears. */
  const listenerThroughProxy = () => {
    const told: Array<{ listening: boolean; err?: string }> = [];
    const heard: string[] = [];
    const listener = new PgListener({
      connect: () => new Client({ connectionString: proxy.urlTo(TEST_DATABASE_URL), application_name: 'pg-listener-test-listen' }),
      retryMs: 50,
      probeIntervalMs: PROBE_INTERVAL_MS,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
    });
    listener.on(channel, (payload) => heard.push(payload));
    listener.watch((listening, err) => told.push({ listening, err: err?.message }));
    stopping.push(() => listener.stop());
    return { listener, told, heard };
  };
  const notify = (payload: string) => notifier.query(`SELECT pg_notify($1, $2)`, [channel, payload]);

  it('gives up a silent connection, says so, and listens again on a new one', async () => {
    const { listener, told, heard } = listenerThroughProxy();
    await listener.start();
    expect(listener.isListening).toBe(true);
    await notify('before');
    await eventually(() => heard.includes('before'), 2_000, 'the first notification');
    expect(proxy.connections).toBe(1);

    proxy.freezeOpen();
    await eventually(() => told.some((t) => !t.listening), 5_000, 'the watcher to be told the listener is deaf');
    expect(told.find((t) => !t.listening)!.err).toMatch(/did not answer/);
    await eventually(() => listener.isListening, 5_000, 'the listener to listen again');
    expect(proxy.connections).toBe(2);
    expect(told.map((t) => t.listening)).toEqual([true, false, true]);

    await notify('after');
    await eventually(() => heard.includes('after'), 2_000, 'a notification sent after it listens again');
  });

  it('probes once per interval at rest, not more', async () => {
    const { listener, told } = listenerThroughProxy();
    await listener.start();
    const probes = jest.spyOn(Client.prototype, 'query');
    try {
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS * 5));
      // About five; a loaded machine may run fewer, never more than one per interval.
      expect(probes.mock.calls.length).toBeLessThanOrEqual(6);
      expect(probes.mock.calls.length).toBeGreaterThan(0);
    } finally {
      probes.mockRestore();
    }
    expect(told.map((t) => t.listening)).toEqual([true]);
  });

  it('stops at once while its connection is silent', async () => {
    const { listener, told } = listenerThroughProxy();
    await listener.start();
    proxy.freezeOpen();
    // Left to a goodbye the silent server never answers, stopping waited for the kernel to give up on the socket.
    let stopped = false;
    void listener.stop().then(() => (stopped = true));
    await eventually(() => stopped, 2 * PROBE_TIMEOUT_MS + 1_000, 'stop to resolve');
    expect(listener.isListening).toBe(false);
    // Stopping is not news for the watchers (they would warn that changes are no longer heard).
    expect(told.map((t) => t.listening)).toEqual([true]);
  });
});
