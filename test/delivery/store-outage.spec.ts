import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';
import { TEST_DATABASE_URL } from '../support/database';
import { TcpProxy, startAppThrough } from '../reliability/support/tcp-proxy';
import { sendShipment, waitForDeliveries } from './delivery-support';

const PG = new URL(TEST_DATABASE_URL);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fan-out attempts a new delivery straight from its message and stores it after. An attempt whose store then
 * fails is made again once the message comes back, so while Postgres does not store, fan-out attempts
 * nothing before storing it: from a failed store until one succeeds, and while a store hangs. Its subscriber
 * cache, its in-flight slots and its listening connection all still look fine in both cases here.
 */
describe('fan-out while Postgres does not store', () => {
  let stack: TestStack;
  let proxy: TcpProxy;
  const receiver = new TestReceiver();

  beforeAll(async () => {
    proxy = await new TcpProxy(PG.hostname, Number(PG.port || 5432)).start();
    stack = await TestStack.start(__filename, { DELIVERY_LEASE: '30s', DELIVERY_FAST_PATH_WAIT: '300ms' }, ['dedupe', 'ingress', 'admin']);
    await startAppThrough(stack, 'fanout', proxy);
    await receiver.start();
  });
  afterAll(async () => {
    proxy?.resume();
    await stack?.stop();
    await receiver.stop();
    await proxy?.stop();
  });

  afterEach(() => stack.db.query(`DROP TRIGGER IF EXISTS refuse ON events`));

  const idsAt = (path: string) => receiver.requests.filter((r) => r.path === path).map((r) => String(r.headers['webhook-id']));

  it('after a store failed, attempts nothing before storing it, until a store succeeds', async () => {
    const clinic = await stack.createClinic('Refused stores');
    const sub = await stack.createSubscriber(clinic.id, receiver.url.replace('/hook', '/refused'));
    await sendShipment(stack, clinic.apiKey, 'warm');
    await waitForDeliveries(stack, sub.id, 'succeeded', 1); // cache, slot and listener warm

    // Postgres up, listening, but refusing to store events (a full disk, a broken migration).
    await stack.db.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no space left'; END $$`);
    await stack.db.query(`CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION refuse()`);
    const first = await sendShipment(stack, clinic.apiKey, 'first-refused'); // may go out before its store fails
    await eventually(() => idsAt('/refused').includes(first), 5_000, 'the first event attempted');
    await sleep(300);
    const later: string[] = [];
    for (let i = 0; i < 10; i++) later.push(await sendShipment(stack, clinic.apiKey, `refused-${i}`));
    await sleep(1_500);
    expect(idsAt('/refused').filter((id) => later.includes(id))).toEqual([]);

    await stack.db.query(`DROP TRIGGER refuse ON events`);
    await waitForDeliveries(stack, sub.id, 'succeeded', 12, 20_000);
    const ids = idsAt('/refused');
    for (const id of later) expect(ids.filter((x) => x === id)).toHaveLength(1);
    expect(ids.filter((x) => x === first).length).toBeLessThanOrEqual(2); // attempted before its store failed, and once stored

    // Stores work again: the next event goes straight from its message (delivered before it is stored).
    const next = await sendShipment(stack, clinic.apiKey, 'after');
    await eventually(() => idsAt('/refused').includes(next), 5_000, 'the next event attempted');
  });

  it('attempts nothing before storing it while a store hangs, and nothing twice once Postgres answers', async () => {
    const clinic = await stack.createClinic('Hanging stores');
    const sub = await stack.createSubscriber(clinic.id, receiver.url.replace('/hook', '/hanging'));
    await sendShipment(stack, clinic.apiKey, 'warm');
    await waitForDeliveries(stack, sub.id, 'succeeded', 1);

    proxy.pause(); // fan-out's connections stay open; nothing gets through, nothing fails
    const first = await sendShipment(stack, clinic.apiKey, 'first-hanging');
    await sleep(2_500); // the first store has been under way longer than fan-out waits for one
    const later: string[] = [];
    for (let i = 0; i < 10; i++) later.push(await sendShipment(stack, clinic.apiKey, `hanging-${i}`));
    await sleep(1_000);
    expect(idsAt('/hanging').filter((id) => later.includes(id))).toEqual([]);

    proxy.resume();
    await waitForDeliveries(stack, sub.id, 'succeeded', 12, 20_000);
    const ids = idsAt('/hanging');
    for (const id of [first, ...later]) expect(ids.filter((x) => x === id)).toHaveLength(1);
  });
});
