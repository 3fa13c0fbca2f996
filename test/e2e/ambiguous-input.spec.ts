import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

let seq = 0;
/** A valid shipment:created body of its own (distinct shipment id), as JSON text. */
const eventText = () => {
  const body = clone(nimbusFixtures['shipment:created']);
  body.event_data.shipment_id = `ambiguous-${++seq}`;
  return JSON.stringify(body);
};

/**
 * No ambiguous input: a body with a key given twice is refused (JSON.parse keeps the last, a receiver of the
 * forwarded `nimbus` bytes may keep the first: two readers, two events), two bodies JSON.parse reads alike
 * but the forwarded bytes do not (integers beyond 2^53) are two events, and a Content-Encoding is decoded
 * within the body limit (gzip, deflate, br) or refused, never ignored.
 */
describe('ingress: duplicate JSON keys and Content-Encoding', () => {
  let stack: TestStack;
  let clinic: { id: string; apiKey: string };
  const receiver = new TestReceiver();

  beforeAll(async () => {
    stack = await TestStack.start(__filename);
    await receiver.start();
    clinic = await stack.createClinic('Ambiguous input clinic');
    await stack.createSubscriber(clinic.id, receiver.url, { format: 'nimbus' });
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver.stop();
  });

  const post = async (body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(`${stack.ingressUrl}/webhooks/nimbus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': clinic.apiKey, ...headers },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; event_id?: string } };
  };

  it('refuses a key given twice, at any depth and in any spelling, with a 400 naming it, and publishes nothing', async () => {
    const before = await stack.storedMessages();
    const valid = eventText();
    const cases: Array<[string, string, RegExp]> = [
      ['event_name twice', valid.replace('{"event_name":"shipment:created"', '{"event_name":"shipment:cancelled","event_name":"shipment:created"'), /"event_name" twice \(in \$\)/],
      ['a nested key twice', valid.replace('"city":"Austin"', '"city":"Austin","city":"Dallas"'), /"city" twice \(in \$\.event_data\.delivery_location\)/],
      ['an escaped spelling of the same key', valid.replace('"event_data":', '"\\u0065vent_name":"shipment:cancelled","event_data":'), /"event_name" twice/],
      ['a duplicate inside a gzip body', valid.replace('"notes":', '"notes":"x","notes":'), /"notes" twice/],
    ];
    const answers = [];
    for (const [what, text, message] of cases) {
      expect(text).not.toBe(valid);
      const body = what.includes('gzip') ? gzipSync(text) : text;
      const res = await post(body, what.includes('gzip') ? { 'content-encoding': 'gzip' } : {});
      answers.push({ what, status: res.status, code: res.body.error?.code, ok: message.test(res.body.error?.message ?? '') });
    }
    expect(answers).toEqual(cases.map(([what]) => ({ what, status: 400, code: 'duplicate_key', ok: true })));
    expect(await stack.storedMessages()).toBe(before);
  });

  it('takes two events that differ only in an integer JSON.parse rounds (beyond 2^53) as two events, and forwards each as sent', async () => {
    // JSON.parse reads both ids as 9007199254740992: keyed by the parsed body alone, the second was a duplicate and was lost.
    const texts = ['9007199254740992', '9007199254740993'].map((id) => `{"event_name":"invoice:paid","event_data":{"invoice_id":${id},"amount":12.5}}`);
    const answers = [];
    for (const text of texts) answers.push(await post(text));
    expect(answers).toEqual([
      { status: 200, body: { received: true, event_id: expect.stringMatching(/^[0-9a-f-]{36}$/) } },
      { status: 200, body: { received: true, event_id: expect.stringMatching(/^[0-9a-f-]{36}$/) } },
    ]);
    expect(answers[0]!.body.event_id).not.toBe(answers[1]!.body.event_id);
    const forwarded = await eventually(() => {
      const bodies = receiver.requests.map((r) => r.body).filter((b) => b.includes('"invoice_id":'));
      return bodies.length === 2 && bodies;
    }, 15_000, 'both invoice events');
    expect([...forwarded].sort()).toEqual([...texts].sort());
  });

  it('accepts the same key in different objects', async () => {
    const res = await post(eventText().replace('"notes":', '"extra":{"notes":1},"notes":'));
    expect(res.status).toBe(200);
  });

  it('decodes gzip, deflate and br bodies and forwards the decoded bytes, byte for byte', async () => {
    const texts = [eventText(), eventText(), eventText()];
    const encoded: Array<[string, Buffer]> = [
      ['gzip', gzipSync(texts[0]!)],
      ['deflate', deflateSync(texts[1]!)],
      ['br', brotliCompressSync(texts[2]!)],
    ];
    for (const [encoding, body] of encoded) expect((await post(body, { 'content-encoding': encoding })).status).toBe(200);
    const forwarded = await eventually(() => {
      const bodies = receiver.requests.map((r) => r.body).filter((b) => texts.some((t) => b.includes(`"${JSON.parse(t).event_data.shipment_id}"`)));
      return bodies.length === 3 && bodies;
    }, 15_000, 'the three decoded events');
    expect([...forwarded].sort()).toEqual([...texts].sort());
  });

  it('answers a zip bomb with 413, an encoding it does not decode with 415, a plain body labelled gzip with 400, and stays healthy', async () => {
    const before = await stack.storedMessages();
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"event_name":"shipment:created","event_data":{"notes":"'), Buffer.alloc(50 * 1024 * 1024, 0x61), Buffer.from('"}}')]));
    expect(bomb.length).toBeLessThan(stack.config.INGRESS_BODY_LIMIT);
    const results = {
      bomb: await post(bomb, { 'content-encoding': 'gzip' }),
      zstd: await post(eventText(), { 'content-encoding': 'zstd' }),
      stacked: await post(gzipSync(gzipSync(eventText())), { 'content-encoding': 'gzip, gzip' }),
      mislabelled: await post(eventText(), { 'content-encoding': 'gzip' }),
      truncated: await post(gzipSync(eventText()).subarray(0, 30), { 'content-encoding': 'gzip' }),
    };
    expect(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, `${r.status} ${r.body.error?.code}`]))).toEqual({
      bomb: '413 payload_too_large',
      zstd: '415 unsupported_content_encoding',
      stacked: '415 unsupported_content_encoding',
      mislabelled: '400 invalid_content_encoding',
      truncated: '400 invalid_content_encoding',
    });
    expect(await stack.storedMessages()).toBe(before);
    expect((await post(eventText(), { 'content-encoding': 'identity' })).status).toBe(200);
  });
});
