import { clone, nimbusFixtures } from '../../../../test/fixtures/nimbus';
import { eventIdOf, idempotencyKeyOf } from './idempotency-key';
import { validateNimbusEvent } from './nimbus-event';

describe('validateNimbusEvent', () => {
  it.each(Object.entries(nimbusFixtures))('accepts the guide example of %s', (_name, fixture) => {
    const result = validateNimbusEvent(clone(fixture));
    expect(result).toMatchObject({ ok: true, event: { known: true } });
  });

  it('accepts an unknown event with any data and marks it unknown', () => {
    expect(validateNimbusEvent({ event_name: 'prescription:renewed', event_data: { x: 1 } })).toMatchObject({
      ok: true,
      event: { eventName: 'prescription:renewed', known: false },
    });
  });

  it('keeps extra fields Nimbus may add later', () => {
    const body = clone(nimbusFixtures['medication:updated']) as any;
    body.event_data.new_field = { nested: true };
    const result = validateNimbusEvent(body);
    expect(result.ok && result.event.data.new_field).toEqual({ nested: true });
  });

  it('accepts nulls in optional fields (a pending shipment has no shipped_at)', () => {
    const body = clone(nimbusFixtures['shipment:created']) as any;
    body.event_data.shipped_at = null;
    body.event_data.tracking_number = null;
    expect(validateNimbusEvent(body).ok).toBe(true);
  });

  const bad: Array<[string, (b: any) => unknown, RegExp]> = [
    ['a non-object body', () => [1, 2], /\(body\)/],
    ['a missing event_name', (b) => ({ event_data: b.event_data }), /event_name: is required/],
    ['a non-string event_name', (b) => ({ ...b, event_name: 42 }), /event_name: must be a string/],
    ['a missing event_data', (b) => ({ event_name: b.event_name }), /event_data: is required/],
    ['an array event_data', (b) => ({ ...b, event_data: [] }), /event_data: must be a JSON object/],
    ['a missing shipment_id', (b) => ({ ...b, event_data: { ...b.event_data, shipment_id: undefined } }), /event_data.shipment_id/],
    ['empty medication_orders', (b) => ({ ...b, event_data: { ...b.event_data, medication_orders: [] } }), /at least one/],
    ['a numeric medication order id', (b) => ({ ...b, event_data: { ...b.event_data, medication_orders: [7] } }), /medication_orders.0/],
    ['a bad shipped_at', (b) => ({ ...b, event_data: { ...b.event_data, shipped_at: 'yesterday' } }), /shipped_at: must be an ISO-8601/],
  ];
  it.each(bad)('rejects %s with a message naming the field', (_what, mutate, message) => {
    const result = validateNimbusEvent(mutate(clone(nimbusFixtures['shipment:created'])));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => `${p.field}: ${p.message}`).join('; ')).toMatch(message);
  });

  it('rejects an unknown medication status and lists the allowed ones', () => {
    const body = clone(nimbusFixtures['medication:updated']) as any;
    body.event_data.status = 'lost';
    const result = validateNimbusEvent(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toEqual({ field: 'event_data.status', message: expect.stringMatching(/validated, submitted, filled, shipped, delivered, cancelled/) });
  });

  it('rejects a bad cancelled_at', () => {
    const body = clone(nimbusFixtures['shipment:cancelled']) as any;
    body.event_data.cancelled_at = '2024-13-45T99:00:00Z';
    expect(validateNimbusEvent(body).ok).toBe(false);
  });
});

describe('idempotencyKeyOf', () => {
  const keyOf = (body: unknown, clinic = 'clinic-a') => {
    const r = validateNimbusEvent(body);
    if (!r.ok) throw new Error('invalid');
    return idempotencyKeyOf(clinic, r.event);
  };

  it('gives a byte-identical resend the same key, and key order does not matter', () => {
    const body = clone(nimbusFixtures['medication:updated']);
    const reordered = { event_data: { ...body.event_data }, event_name: body.event_name };
    expect(keyOf(body)).toBe(keyOf(clone(body)));
    expect(keyOf(body)).toBe(keyOf(reordered));
  });

  it('keeps successive status changes of one medication order apart', () => {
    const filled = clone(nimbusFixtures['medication:updated']) as any;
    filled.event_data.status = 'filled';
    const shipped = clone(nimbusFixtures['medication:updated']);
    const delivered = clone(nimbusFixtures['medication:updated']) as any;
    delivered.event_data.status = 'delivered';
    delivered.event_data.updated_at = '2024-01-16T09:00:00.000Z';
    expect(new Set([keyOf(filled), keyOf(shipped), keyOf(delivered)]).size).toBe(3);
  });

  it('keeps the same event of two clinics apart', () => {
    const body = clone(nimbusFixtures['shipment:created']);
    expect(keyOf(body, 'clinic-a')).not.toBe(keyOf(body, 'clinic-b'));
  });

  it('keeps shipment:created and shipment:cancelled of one shipment apart', () => {
    expect(keyOf(clone(nimbusFixtures['shipment:created']))).not.toBe(keyOf(clone(nimbusFixtures['shipment:cancelled'])));
  });

  it('hashes the canonical body of unknown events', () => {
    const a = { event_name: 'x:y', event_data: { a: 1, b: 2 } };
    expect(keyOf(a)).toBe(keyOf({ event_data: { b: 2, a: 1 }, event_name: 'x:y' }));
    expect(keyOf(a)).not.toBe(keyOf({ event_name: 'x:y', event_data: { a: 1, b: 3 } }));
  });

  it('derives a stable UUID-shaped event id', () => {
    const id = eventIdOf(keyOf(clone(nimbusFixtures['shipment:created'])));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
