import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

const EVENTS = 6;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const cursorOf = (raw: string) => Buffer.from(raw).toString('base64url');

interface Delivery {
  id: string;
  clinic_id: string;
  webhook_id: string;
  status: string;
  created_at: string;
}

describe('deliveries API: filters, cursor pagination, one delivery with its attempts', () => {
  let stack: TestStack;
  let good: TestReceiver;
  let failing: TestReceiver;
  let x: { id: string; apiKey: string };
  let y: { id: string; apiKey: string };
  let okSub: string;
  let badSub: string;

  const list = async (query: string) => {
    const res = await stack.admin('GET', `/admin/deliveries${query}`);
    expect(res.status).toBe(200);
    return res.body as { items: Delivery[]; next_cursor: string | null };
  };
  /** Follows next_cursor from the first page to the last; returns every item and the number of pages. */
  const all = async (query: string) => {
    const items: Delivery[] = [];
    let pages = 0;
    let cursor: string | null = null;
    do {
      const page = await list(`${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...page.items);
      pages++;
      cursor = page.next_cursor;
    } while (cursor && pages < 50);
    return { items, pages };
  };

  beforeAll(async () => {
    // a long retry schedule: the failing subscriber's deliveries stay pending after their first attempt
    stack = await TestStack.start(__filename, { RETRY_SCHEDULE: '1h' });
    good = await new TestReceiver().start();
    failing = await new TestReceiver().start();
    failing.respond = () => ({ status: 500, body: 'down for maintenance' });
    x = await stack.createClinic('Deliveries X');
    y = await stack.createClinic('Deliveries Y');
    okSub = (await stack.createSubscriber(x.id, good.url)).id;
    badSub = (await stack.createSubscriber(x.id, failing.url)).id;
    await stack.createSubscriber(y.id, good.url);
    for (let i = 0; i < EVENTS; i++) {
      const body = clone(nimbusFixtures['shipment:created']);
      body.event_data.shipment_id = `deliveries-${i}`;
      expect((await stack.send(x.apiKey, body)).status).toBe(200);
    }
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = 'deliveries-y';
    expect((await stack.send(y.apiKey, body)).status).toBe(200);
    await good.waitFor(EVENTS + 1);
    await failing.waitFor(EVENTS);
    await eventually(async () => (await all(`?clinic_id=${x.id}&webhook_id=${badSub}&status=pending&limit=100`)).items.length === EVENTS, 10_000, 'failed first attempts recorded');
    // Fan-out stores an event with its first attempts after they are answered: a delivery received is not yet a row.
    await eventually(async () => (await all('?limit=100')).items.length === 2 * EVENTS + 1, 10_000, 'every delivery stored');
  });

  afterAll(async () => {
    await stack?.stop();
    await good?.stop();
    await failing?.stop();
  });

  it('pages through more than one page with the cursor, newest first, without repeats or gaps', async () => {
    const { items, pages } = await all(`?clinic_id=${x.id}&limit=5`);
    expect(pages).toBe(3);
    expect(items).toHaveLength(2 * EVENTS);
    expect(new Set(items.map((d) => d.id)).size).toBe(2 * EVENTS);
    const times = items.map((d) => Date.parse(d.created_at));
    expect(times).toEqual([...times].sort((p, q) => q - p));
    expect(items.every((d) => d.clinic_id === x.id)).toBe(true);
    const everything = await all('?limit=4');
    expect(everything.items).toHaveLength(2 * EVENTS + 1);
  });

  it('filters by clinic, webhook and status, alone and together (also while paging)', async () => {
    expect((await list(`?clinic_id=${y.id}`)).items.map((d) => d.clinic_id)).toEqual([y.id]);
    const ok = await all(`?webhook_id=${okSub}&limit=4`);
    expect(ok.pages).toBe(2);
    expect(ok.items.map((d) => `${d.webhook_id}:${d.status}`)).toEqual(Array(EVENTS).fill(`${okSub}:succeeded`));
    const pending = await list(`?clinic_id=${x.id}&status=pending`);
    expect(pending.items.map((d) => d.webhook_id)).toEqual(Array(EVENTS).fill(badSub));
    expect((await list(`?clinic_id=${x.id}&status=succeeded`)).items).toHaveLength(EVENTS);
    expect((await list(`?clinic_id=${y.id}&webhook_id=${okSub}`)).items).toEqual([]);
    expect((await list(`?status=dead`)).items).toEqual([]);
  });

  it('returns one delivery with its attempts', async () => {
    const [delivery] = (await list(`?webhook_id=${badSub}&limit=1`)).items;
    const res = await stack.admin('GET', `/admin/deliveries/${delivery!.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.objectContaining({ id: delivery!.id, webhook_id: badSub, status: 'pending', attempt_count: 1, last_status_code: 500, next_attempt_at: expect.any(String) }),
    );
    expect(res.body.attempts).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'http_error', status_code: 500, response_excerpt: 'down for maintenance', started_at: expect.any(String) }),
    ]);
  });

  it.each([
    ['an unknown status', '?status=lost', 400],
    ['limit 0', '?limit=0', 400],
    ['limit above 500', '?limit=501', 400],
    ['a non-UUID clinic_id', '?clinic_id=abc', 400],
  ])('refuses %s with 400', async (_what, query, status) => {
    const res = await stack.admin('GET', `/admin/deliveries${query}`);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toEqual(expect.any(String));
  });

  // A cursor is opaque but can be forged. The last three pass a loose look (a regex, Date.parse) yet Postgres
  // refuses to read them, which was a 500: V8 rolls Feb 30 over into March and takes year 0, and 36 `a`s are no UUID.
  it.each([
    ['not a cursor', 'bm90LWEtY3Vyc29y'],
    ['a day that does not exist (Feb 30)', cursorOf(`2026-02-30T00:00:00.000000Z|${UNKNOWN_ID}`)],
    ['year 0', cursorOf(`0000-01-01T00:00:00.000000Z|${UNKNOWN_ID}`)],
    ['an id that is not a UUID', cursorOf(`2026-01-01T00:00:00.000000Z|${'a'.repeat(36)}`)],
  ])('refuses a forged cursor (%s) with 400 on the operator and the clinic route', async (_what, cursor) => {
    for (const path of ['/admin/deliveries?', `/api/external/deliveries?clinic_id=${x.id}&`]) {
      const res = await stack.admin('GET', `${path}cursor=${cursor}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'bad_request', message: 'cursor: is not valid' });
    }
  });

  it('answers 404 for an unknown or malformed delivery id', async () => {
    expect((await stack.admin('GET', `/admin/deliveries/${UNKNOWN_ID}`)).status).toBe(404);
    expect((await stack.admin('GET', '/admin/deliveries/42')).status).toBe(404);
  });
});
