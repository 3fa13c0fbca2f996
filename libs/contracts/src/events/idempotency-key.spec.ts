import { clone, nimbusFixtures } from '../../../../test/fixtures/nimbus';
import { canonicalJsonOfText } from './canonical-json-text';
import { canonicalJson, idempotencyKeyOf } from './idempotency-key';
import { validateNimbusEvent } from './nimbus-event';

/** The key ingress computes for a body as it arrives: parsed by JSON.parse, keyed with its bytes beside. */
const keyOf = (text: string, clinic = 'clinic-a') => {
  const r = validateNimbusEvent(JSON.parse(text));
  if (!r.ok) throw new Error(`invalid body: ${r.problems[0]!.field}`);
  return idempotencyKeyOf(clinic, r.event, Buffer.from(text));
};

const medicationUpdated = nimbusFixtures['medication:updated'];

/**
 * Keys computed before integers beyond 2^53 were keyed by their digits. A claim lives 24 h across a
 * deploy: a key that changed would let the retry of an event accepted before the deploy through as new.
 */
const unchanged: Array<[string, string, string]> = [
  ['the guide example of shipment:created', JSON.stringify(nimbusFixtures['shipment:created']), '0b72abbde4cad3ba3d3fa7e90522251efdf1bd664cc4479f0c26c666545521b6'],
  ['the guide example of shipment:cancelled', JSON.stringify(nimbusFixtures['shipment:cancelled']), 'b39353d8436f2a2356f31b8553077a9a9eb413b8595f6d42ad518defbafa0933'],
  ['the guide example of medication:updated', JSON.stringify(medicationUpdated), '886827019ac57d6455092c82b7aaa12e1d78db72c0e7e031e6aa47dba2fc7cdd'],
  ['medication:updated pretty-printed', JSON.stringify(medicationUpdated, null, 2), '886827019ac57d6455092c82b7aaa12e1d78db72c0e7e031e6aa47dba2fc7cdd'],
  [
    'medication:updated without updated_at',
    JSON.stringify({ ...medicationUpdated, event_data: { ...medicationUpdated.event_data, updated_at: null } }),
    'a978931c1f9588e6f5bd370fa8adf778dfa286f958dca8f439758693f477773d',
  ],
  [
    // Keyed by its discriminators: the body, long integer included, is not part of the key.
    'shipment:created with a long integer in an extra field',
    JSON.stringify(nimbusFixtures['shipment:created']).replace('{"shipment_id"', '{"legacy_id":12345678901234567890123,"shipment_id"'),
    '0b72abbde4cad3ba3d3fa7e90522251efdf1bd664cc4479f0c26c666545521b6',
  ],
  [
    'nested objects and arrays',
    '{"event_name":"invoice:paid","event_data":{"id":"inv_1","lines":[{"sku":"A-1","qty":2,"price":19.99},{"sku":"B-2","qty":1,"price":0.1}],"customer":{"address":{"zip":"78701","geo":[30.2672,-97.7431]}}}}',
    '3f69e794d3411865443c483375371cc96f451000d483f3dd10682b4d05f6fb26',
  ],
  [
    'floats and exponents',
    '{"event_name":"metrics:sampled","event_data":{"small":1e-7,"big":1E+21,"neg":-2.5e3,"zero":-0,"frac":0.30000000000000004,"hundred":1e2,"long_float":3.14159265358979323846,"huge":1e308}}',
    'e42955f5745a9784ab74d2a92a92cf4b35588a122ec61c01dfc02ccfd7bb75c0',
  ],
  [
    'unicode and escapes',
    '{"event_name":"patient:noted","event_data":{"name":"Zoë Ørsted","note":"\\u00e9t\\u00e9 \\ud83d\\udc8a","emoji":"💊","ctl":"tab\\tnew\\nline","quote":"\\"q\\"","slash":"\\/","nul":"\\u0000"}}',
    '0145f2256c4b871c35430bbc99d090d0b0b9663ffebb9d01ba92125aae63e2e8',
  ],
  [
    'integers beyond 2^53 that a double holds exactly',
    '{"event_name":"ledger:posted","event_data":{"max_safe":9007199254740991,"two_pow_53":9007199254740992,"two_pow_60":1152921504606846976,"neg":-9007199254740994,"two_pow_70":1180591620717411303424,"list":[18014398509481984]}}',
    '6e11a0791c2f8e99b54ab9760f1f958036b22335b0cb1846aca35497314fab3e',
  ],
  [
    'digit runs inside strings',
    '{"event_name":"shipment:tracked","event_data":{"tracking_number":"9400111899223100012345","ref":"12345678901234567890","9007199254740993":"a key of digits"}}',
    'd807c80cd2ac0694d07ee19abf1a95b69f28852a0f4b759ad8f3e146f37f3f56',
  ],
  [
    'white space, key order and integer-like keys',
    '{\n  "event_data" : { "2" : "b", "10" : "a", "b" : [ 3, 2, 1 ], "a" : { "z" : null, "y" : true, "x" : false } },\n  "event_name" : "x:y"\n}',
    '24a16e8808be6349cb6f266672c6c873207e22e5833c11aa83c98ba174c83de7',
  ],
  ['empty containers', '{"event_name":"ping","event_data":{"list":[],"obj":{},"deep":[[[]],{"a":[{}]}]}}', '43d86f9c7117fa45134b817095da560e4ec316b4ddddffe036976d8b6cd4da78'],
];

describe('idempotencyKeyOf and integers beyond 2^53', () => {
  it.each(unchanged)('keeps the key of %s', (_what, text, key) => {
    expect(keyOf(text)).toBe(key);
  });

  it("reads a body's bytes as canonicalJson reads JSON.parse's result, but for the integers JSON.parse rounds", () => {
    const texts = [
      ...unchanged.filter(([what]) => !what.includes('long integer')).map(([, text]) => text),
      '{"a":1,"b":2,"a":{"c":3}}', // the last of two equal keys, as JSON.parse
      ' [1, "x", null, true, false, -0, 0.5, 1e400, -1E-400, {"":[]}] ',
      '"\\u2028 \\\\ \\"" ',
      '12.000000000000000000001',
    ];
    for (const text of texts) expect(canonicalJsonOfText(Buffer.from(text))).toBe(canonicalJson(JSON.parse(text)));
    expect(canonicalJsonOfText(Buffer.from('\ufeff{"a":1}'))).toBe('{"a":1}'); // a byte order mark, skipped as Fastify's parser does
    expect(canonicalJsonOfText(Buffer.from('[9007199254740993,-12345678901234567890123,1e400]'))).toBe('[9007199254740993,-12345678901234567890123,null]');
  });

  const invoice = (id: string) => `{"event_name":"invoice:paid","event_data":{"id":${id}}}`;

  it.each([
    ['just above 2^53', '9007199254740992', '9007199254740993'],
    ['negative', '-9007199254740993', '-9007199254740992'],
    ['beyond 1e21', '12345678901234567890123', '12345678901234567890124'],
    ['in an array', '[1,9007199254740993]', '[1,9007199254740992]'],
    ['in a nested object', '{"a":{"b":18014398509481985}}', '{"a":{"b":18014398509481986}}'],
    ['beyond any double', `1${'0'.repeat(400)}`, `2${'0'.repeat(400)}`],
    ['beside one it holds exactly, swapped', '{"x":9007199254740992,"y":9007199254740993}', '{"x":9007199254740993,"y":9007199254740992}'],
  ])('gives two bodies that JSON.parse reads alike but differ in an integer %s two keys', (_where, a, b) => {
    expect(JSON.parse(invoice(a))).toEqual(JSON.parse(invoice(b))); // what the key used to be made of
    expect(keyOf(invoice(a))).not.toBe(keyOf(invoice(b)));
  });

  it('gives a resend of a body with such an integer its key again, whatever its white space and key order', () => {
    const sent = '{"event_name":"invoice:paid","event_data":{"id":9007199254740993,"total":12.5}}';
    expect(keyOf('{ "event_data": { "total": 12.5, "id": 9007199254740993 }, "event_name": "invoice:paid" }')).toBe(keyOf(sent));
  });

  it('keys an integer a double holds exactly, such as 2^60 written out, as before', () => {
    const text = invoice('1152921504606846976');
    const r = validateNimbusEvent(JSON.parse(text));
    if (!r.ok) throw new Error('invalid');
    expect(keyOf(text)).toBe(idempotencyKeyOf('clinic-a', r.event)); // without the bytes: the parsed body alone
  });

  it("cannot meet such an integer in a known event's discriminators: the validators want strings", () => {
    const shipment = clone(nimbusFixtures['shipment:created']) as any;
    shipment.event_data.shipment_id = 9007199254740993;
    const medication = clone(medicationUpdated) as any;
    medication.event_data.medication_order_id = 9007199254740993;
    expect([validateNimbusEvent(shipment).ok, validateNimbusEvent(medication).ok]).toEqual([false, false]);
  });
});
