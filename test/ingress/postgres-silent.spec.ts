import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TEST_DATABASE_URL } from '../support/database';
import { TestStack } from '../support/stack';
import { TcpProxy, startAppThrough } from '../reliability/support/tcp-proxy';

const PG = new URL(TEST_DATABASE_URL);

/**
 * Ingress's Postgres goes silent without closing its connections (a failover's old primary gone, a network
 * that drops packets), while new connections reach a Postgres that answers. A key lookup on a silent
 * connection used to wait until the kernel gave up on the socket (~15 minutes): the sender got no answer at
 * all, and neither did anyone else whose request shared that lookup.
 */
describe('ingress while its Postgres connections go silent', () => {
  let stack: TestStack;
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await new TcpProxy(PG.hostname, Number(PG.port || 5432)).start();
    stack = await TestStack.start(__filename, {}, ['dedupe', 'admin']);
    await startAppThrough(stack, 'ingress', proxy);
  });
  afterAll(async () => {
    proxy?.unplug(); // the silent connections fail at last, so ingress's pool can close
    await stack?.stop();
    await proxy?.stop();
  });

  let seq = 0;
  const event = () => {
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = `silent-${process.pid}-${++seq}`;
    return body;
  };

  it('answers 503 with Retry-After within the sender\'s 5 s, then accepts on a new connection', async () => {
    const warm = await stack.createClinic('Warm');
    expect((await stack.send(warm.apiKey, event())).status).toBe(200); // ingress's connections are open
    const cold = await stack.createClinic('Not yet looked up');
    proxy.freezeOpen();
    const answers: number[] = [];
    const started = Date.now();
    // Each lookup that lands on a silent connection gives it up; the pool then connects anew.
    while (!answers.includes(200) && Date.now() - started < 30_000) {
      const sent = Date.now();
      let timer!: NodeJS.Timeout;
      const res = await Promise.race([stack.send(cold.apiKey, event()), new Promise<null>((r) => (timer = setTimeout(() => r(null), 5_000)))]);
      clearTimeout(timer);
      expect(res).not.toBeNull(); // answered inside Nimbus's timeout
      answers.push(res!.status);
      if (res!.status === 503) expect(Number(res!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Date.now() - sent).toBeLessThan(5_000);
    }
    expect(answers.at(-1)).toBe(200);
    expect(answers.every((s) => s === 503 || s === 200)).toBe(true);
  });
});
