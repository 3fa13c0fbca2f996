import { eventIdOf, idempotencyKeyOf, validateNimbusEvent } from '@switchyard/contracts';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestReceiver, signedBy as signed } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';


describe('core path: a Nimbus webhook in, stored, deduplicated, delivered out', () => {
  let stack: TestStack;
  let receiver: TestReceiver;
  let clinic: { id: string; apiKey: string };
  let subscriber: { id: string; secret: string };

  beforeAll(async () => {
    stack = await TestStack.start(__filename);
    receiver = await new TestReceiver().start();
    clinic = await stack.createClinic('Austin Family Clinic');
    subscriber = await stack.createSubscriber(clinic.id, receiver.url);
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  it("delivers the guide's three events as signed CloudEvents", async () => {
    const before = receiver.requests.length;
    const sentAt = Date.now();
    const eventIds: string[] = [];
    for (const fixture of Object.values(nimbusFixtures)) {
      const res = await stack.send(clinic.apiKey, fixture);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true, event_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      eventIds.push(res.body.event_id);
    }
    await receiver.waitFor(before + 3);
    // Each delivery's id is time-ordered (UUID v7: its first 48 bits are when fan-out made it).
    // (Stored once their attempts are in: a moment after the receiver has them.)
    const stored = await eventually(async () => {
      const rows: Array<{ id: string }> = await stack.db.query(`SELECT id::text FROM deliveries WHERE event_id = ANY($1::uuid[])`, [eventIds]);
      return rows.length === 3 && rows;
    }, 5_000, 'the three deliveries stored');
    for (const { id } of stored) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const madeAt = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
      expect(madeAt).toBeGreaterThanOrEqual(sentAt);
      expect(madeAt).toBeLessThanOrEqual(Date.now());
    }
    const got = receiver.requests.slice(before);
    expect(got.map((r) => JSON.parse(r.body).type).sort()).toEqual([
      'com.nimbus-os.medication.updated',
      'com.nimbus-os.shipment.cancelled',
      'com.nimbus-os.shipment.created',
    ]);
    for (const r of got) {
      expect(signed(subscriber.secret, r)).toBe(true);
      expect(r.headers['content-type']).toBe('application/cloudevents+json');
      expect(r.headers['user-agent']).toMatch(/^Switchyard/);
      const ce = JSON.parse(r.body);
      expect(ce).toMatchObject({ specversion: '1.0', source: 'https://api.nimbus-os.com', clinicid: clinic.id, datacontenttype: 'application/json' });
      expect(ce.id).toBe(r.headers['webhook-id']);
    }
    const created = got.find((r) => JSON.parse(r.body).type === 'com.nimbus-os.shipment.created')!;
    expect(JSON.parse(created.body)).toMatchObject({ subject: nimbusFixtures['shipment:created'].event_data.shipment_id, data: nimbusFixtures['shipment:created'].event_data });
  });

  it('stamps the CloudEvents time when the request arrives, not when its claim comes back', async () => {
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = 'slow-claim-1';
    const validation = validateNimbusEvent(body);
    if (!validation.ok) throw new Error('fixture invalid');
    const key = idempotencyKeyOf(clinic.id, validation.event);
    // An uncommitted row on the same key makes the claim wait in Postgres until it is rolled back.
    const lock = stack.db.createQueryRunner();
    await lock.startTransaction();
    await lock.query(
      `INSERT INTO idempotency_claims (key, clinic_id, event_id, state, token, lease_until, expires_at)
       VALUES ($1, $2, $3, 'pending', 'lock', now() + interval '1 minute', now() + interval '1 day')`,
      [key, clinic.id, eventIdOf(key)],
    );
    const before = receiver.requests.length;
    const sentAt = Date.now();
    const answer = stack.send(clinic.apiKey, body);
    await new Promise((r) => setTimeout(r, 800));
    const releasedAt = Date.now();
    await lock.rollbackTransaction();
    await lock.release();
    expect((await answer).status).toBe(200);
    await receiver.waitFor(before + 1);
    const time = Date.parse(JSON.parse(receiver.requests[before]!.body).time);
    expect(time).toBeGreaterThanOrEqual(sentAt - 5);
    expect(time).toBeLessThan(releasedAt - 400); // the claim only came back after releasedAt
  });

  it('answers a duplicate with 200 duplicate:true and does not deliver it again', async () => {
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = 'dup-shipment-1';
    const first = await stack.send(clinic.apiKey, body);
    expect(first.status).toBe(200);
    await eventually(() => receiver.requests.some((r) => r.body.includes('dup-shipment-1')), 10_000, 'first delivery');
    const stored = await stack.storedMessages();
    const second = await stack.send(clinic.apiKey, body);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ received: true, duplicate: true, event_id: first.body.event_id });
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.requests.filter((r) => r.body.includes('dup-shipment-1'))).toHaveLength(1);
    expect(await stack.storedMessages()).toBe(stored);
  });

  it('keeps claims out of the write-ahead log: a resend whose claim a Postgres crash took is answered, and the stream drops its copy within the duplicate window', async () => {
    const [{ relpersistence }] = await stack.db.query(`SELECT relpersistence FROM pg_class WHERE oid = 'idempotency_claims'::regclass`);
    expect(relpersistence).toBe('u'); // crash recovery empties it; what follows is what a resend then meets
    const body = clone(nimbusFixtures['medication:updated']) as any;
    body.event_data.medication_order_id = 'order-claim-lost';
    const first = await stack.send(clinic.apiKey, body);
    expect(first.status).toBe(200);
    await eventually(() => receiver.requests.some((r) => r.body.includes('order-claim-lost')), 10_000, 'first delivery');
    const validation = validateNimbusEvent(body);
    if (!validation.ok) throw new Error('fixture invalid');
    const key = idempotencyKeyOf(clinic.id, validation.event);
    const completed = async () => (await stack.db.query(`SELECT 1 FROM idempotency_claims WHERE key = $1 AND state = 'done'`, [key])).length === 1;
    await eventually(completed, 5_000, 'the claim completed'); // completions ride along with later claims
    await stack.db.query(`DELETE FROM idempotency_claims WHERE key = $1`, [key]);
    const stored = await stack.storedMessages();

    const again = await stack.send(clinic.apiKey, body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: true, event_id: first.body.event_id }); // claimed anew: published again under the same id
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receiver.requests.filter((r) => r.body.includes('order-claim-lost'))).toHaveLength(1);
    const [{ events, deliveries }] = await stack.db.query(
      `SELECT (SELECT count(*)::int FROM events WHERE id = $1) AS events, (SELECT count(*)::int FROM deliveries WHERE event_id = $1) AS deliveries`,
      [first.body.event_id],
    );
    expect({ events, deliveries }).toEqual({ events: 1, deliveries: 1 });
    expect(await stack.storedMessages()).toBe(stored);
  });

  it('delivers every distinct status change of one medication order', async () => {
    const statuses = ['validated', 'submitted', 'filled', 'shipped', 'delivered'];
    for (const [i, status] of statuses.entries()) {
      const body = clone(nimbusFixtures['medication:updated']) as any;
      body.event_data.medication_order_id = 'order-status-chain';
      body.event_data.status = status;
      body.event_data.updated_at = `2024-01-15T1${i}:00:00.000Z`;
      const res = await stack.send(clinic.apiKey, body);
      expect(res.status).toBe(200);
      expect(res.body.duplicate).toBeUndefined();
    }
    await eventually(
      () => receiver.requests.filter((r) => r.body.includes('order-status-chain')).length === statuses.length,
      10_000,
      'five deliveries',
    );
    const seen = receiver.requests.filter((r) => r.body.includes('order-status-chain')).map((r) => JSON.parse(r.body).data.status);
    expect(seen.sort()).toEqual([...statuses].sort());
  });

  it('forwards the original body unchanged, with the X-API-Key a nimbus-format subscriber registered', async () => {
    const nimbusReceiver = await new TestReceiver().start();
    try {
      const other = await stack.createClinic('Nimbus-format clinic');
      const sub = await stack.createSubscriber(other.id, nimbusReceiver.url, { format: 'nimbus', api_key: 'downstream-key-123' });
      const raw = `{"event_name":"shipment:cancelled",  "event_data":{"shipment_id":"s-raw","medication_orders":["m1"],"cancellation_reason":"Patient request"}}`;
      expect((await stack.send(other.apiKey, raw)).status).toBe(200);
      await nimbusReceiver.waitFor(1);
      const r = nimbusReceiver.requests[0]!;
      expect(r.body).toBe(raw);
      expect(r.headers['x-api-key']).toBe('downstream-key-123');
      expect(r.headers['content-type']).toBe('application/json');
      expect(signed(sub.secret, r)).toBe(true);
    } finally {
      await nimbusReceiver.stop();
    }
  });

  it('sends an unknown event only to subscribers of *', async () => {
    const all = await new TestReceiver().start();
    const some = await new TestReceiver().start();
    try {
      const c = await stack.createClinic('Filter clinic');
      await stack.createSubscriber(c.id, all.url);
      await stack.createSubscriber(c.id, some.url, { event_types: ['shipment:created'] });
      expect((await stack.send(c.apiKey, { event_name: 'prescription:renewed', event_data: { prescription_id: 'p1' } })).status).toBe(200);
      expect((await stack.send(c.apiKey, nimbusFixtures['shipment:created'])).status).toBe(200);
      await all.waitFor(2);
      await some.waitFor(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(some.requests.map((r) => JSON.parse(r.body).type)).toEqual(['com.nimbus-os.shipment.created']);
      expect(all.requests.map((r) => JSON.parse(r.body).type).sort()).toEqual(['com.nimbus-os.prescription.renewed', 'com.nimbus-os.shipment.created']);
    } finally {
      await all.stop();
      await some.stop();
    }
  });

  it('never delivers one clinic’s events to another clinic’s subscribers', async () => {
    const rA = await new TestReceiver().start();
    const rB = await new TestReceiver().start();
    try {
      const a = await stack.createClinic('Clinic A');
      const b = await stack.createClinic('Clinic B');
      await stack.createSubscriber(a.id, rA.url);
      await stack.createSubscriber(b.id, rB.url);
      const body = clone(nimbusFixtures['shipment:created']);
      body.event_data.shipment_id = 'only-for-a';
      expect((await stack.send(a.apiKey, body)).status).toBe(200);
      await rA.waitFor(1);
      await new Promise((r) => setTimeout(r, 500));
      expect(rB.requests).toHaveLength(0);
      expect(JSON.parse(rA.requests[0]!.body).clinicid).toBe(a.id);
    } finally {
      await rA.stop();
      await rB.stop();
    }
  });

  it('answers the same 401 for a missing, unknown, malformed, revoked key or a disabled clinic', async () => {
    const c = await stack.createClinic('Key clinic');
    const issued = await stack.admin('POST', `/admin/clinics/${c.id}/keys`, { grace_seconds: 0 });
    expect(issued.status).toBe(201);
    const revokedKeyId = issued.body.key_id;
    expect((await stack.admin('DELETE', `/admin/clinics/${c.id}/keys/${revokedKeyId}`)).status).toBe(204);
    const disabled = await stack.createClinic('Disabled clinic');
    expect((await stack.admin('PATCH', `/admin/clinics/${disabled.id}`, { enabled: false })).status).toBe(200);

    const before = await stack.storedMessages();
    const bodies = new Set<string>();
    for (const key of [undefined, 'not-a-key', 'swy_' + 'A'.repeat(40), c.apiKey, issued.body.api_key, disabled.apiKey]) {
      const res = await stack.send(key, nimbusFixtures['shipment:created']);
      expect(res.status).toBe(401);
      bodies.add(JSON.stringify(res.body));
    }
    expect([...bodies]).toEqual([JSON.stringify({ error: { code: 'unauthorized', message: 'missing or invalid X-API-Key' } })]);
    expect(await stack.storedMessages()).toBe(before);
  });

  it('rejects malformed, oversized and wrong-content-type bodies with a JSON 4xx, publishing nothing', async () => {
    const before = await stack.storedMessages();
    const cases: Array<[string, string | object, Record<string, string>, number, string]> = [
      ['not JSON', '{"event_name": ', {}, 400, 'invalid_json'],
      ['an empty body', '', {}, 400, 'invalid_json'],
      ['a JSON array', '[1,2]', {}, 400, 'invalid_event'],
      ['a missing event_data', { event_name: 'shipment:created' }, {}, 400, 'invalid_event'],
      ['a bad status', { event_name: 'medication:updated', event_data: { medication_order_id: 'x', status: 'lost' } }, {}, 400, 'invalid_event'],
      ['text/plain', JSON.stringify(nimbusFixtures['shipment:created']), { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      ['form data', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
      ['a __proto__ key', '{"event_name":"x:y","event_data":{"__proto__":{"admin":true}}}', {}, 400, 'invalid_json'],
      [
        'a body over 256 KiB',
        { event_name: 'shipment:created', event_data: { ...nimbusFixtures['shipment:created'].event_data, notes: 'x'.repeat(300 * 1024) } },
        {},
        413,
        'payload_too_large',
      ],
    ];
    for (const [what, body, headers, status, code] of cases) {
      const res = await stack.send(clinic.apiKey, body, headers);
      expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({ what, status, code });
      expect(typeof res.body.error.message).toBe('string');
    }
    const badStatus = await stack.send(clinic.apiKey, { event_name: 'medication:updated', event_data: { medication_order_id: 'x', status: 'lost' } });
    expect(badStatus.body.error.message).toMatch(/event_data.status: must be one of validated, submitted, filled, shipped, delivered, cancelled/);
    expect(await stack.storedMessages()).toBe(before);
  });

  it('records a failed attempt and keeps the delivery for retry', async () => {
    const failing = await new TestReceiver().start();
    failing.respond = () => ({ status: 500, body: 'boom' });
    try {
      const c = await stack.createClinic('Failing clinic');
      const sub = await stack.createSubscriber(c.id, failing.url);
      expect((await stack.send(c.apiKey, nimbusFixtures['shipment:created'])).status).toBe(200);
      await failing.waitFor(1);
      const page = await eventually(async () => {
        const res = await stack.admin('GET', `/admin/deliveries?webhook_id=${sub.id}`);
        return res.body.items[0]?.attempt_count === 1 ? res.body : null;
      }, 10_000, 'the attempt record');
      const delivery = page.items[0];
      expect(delivery).toMatchObject({ status: 'pending', last_status_code: 500, clinic_id: c.id });
      expect(new Date(delivery.next_attempt_at).getTime()).toBeGreaterThan(Date.now() + 30_000);
      const detail = await stack.admin('GET', `/admin/deliveries/${delivery.id}`);
      expect(detail.body.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'http_error', status_code: 500, response_excerpt: 'boom' })]);
    } finally {
      await failing.stop();
    }
  });
});
