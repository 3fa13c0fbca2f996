import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

/** Loopback, private, link-local, CGNAT, metadata and embedded-IPv4 addresses in the spellings attackers use. */
const REFUSED_SPELLINGS = [
  'https://127.0.0.1/hook',
  'https://127.1/hook',
  'https://2130706433/hook',
  'https://0x7f000001/hook',
  'https://0177.0.0.1/hook',
  'https://0x7f.1/hook',
  'https://127.000.000.001/hook',
  'https://localhost/hook',
  'https://LOCALHOST./hook',
  'https://[::1]/hook',
  'https://[0:0:0:0:0:0:0:1]/hook',
  'https://[::ffff:127.0.0.1]/hook',
  'https://[::ffff:7f00:1]/hook',
  'https://[64:ff9b::127.0.0.1]/hook',
  'https://[2002:7f00:1::]/hook',
  'https://0.0.0.0/hook',
  'https://0/hook',
  'https://10.0.0.1/hook',
  'https://172.16.0.1/hook',
  'https://192.168.1.1/hook',
  'https://[fd00::1]/hook',
  'https://169.254.169.254/latest/meta-data',
  'https://[fe80::1]/hook',
  'https://100.64.0.1/hook',
  'https://metadata.google.internal/computeMetadata/v1',
];

describe('SSRF: strict policy at registration and at connect time; a loopback canary receives nothing', () => {
  let stack: TestStack;
  let canary: TestReceiver;
  let clinic: { id: string; apiKey: string };

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { ALLOW_INSECURE_SUBSCRIBER_URLS: 'false', RETRY_SCHEDULE: '200ms' });
    canary = await new TestReceiver().start();
    clinic = await stack.createClinic('SSRF Clinic');
  });

  afterAll(async () => {
    await stack?.stop();
    await canary?.stop();
  });

  const canaryPort = () => new URL(canary.url).port;

  it.each(REFUSED_SPELLINGS)('refuses %s at registration with 400', async (url) => {
    const res = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_webhook_url');
  });

  it("refuses the canary's own URL (http and https) on create and on update", async () => {
    for (const url of [canary.url, canary.url.replace('http:', 'https:'), `https://localhost:${canaryPort()}/hook`]) {
      expect((await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url })).status).toBe(400);
    }
    const ok = await stack.createSubscriber(clinic.id, 'https://93.184.216.34/hook');
    expect((await stack.admin('PATCH', `/api/external/webhook/${ok.id}`, { webhook_url: `https://127.1:${canaryPort()}/hook` })).status).toBe(400);
    expect((await stack.admin('DELETE', `/api/external/webhook/${ok.id}`)).status).toBe(200);
  });

  it('blocks delivery at connect time to rows inserted straight into the database (outcome "blocked")', async () => {
    const targets = [canary.url, canary.url.replace('http:', 'https:'), `http://localhost:${canaryPort()}/hook`, `http://[::ffff:127.0.0.1]:${canaryPort()}/hook`];
    const ids: string[] = [];
    for (const url of targets) {
      // bypass validation: what a bad migration, a manual fix or a restored backup could leave behind
      const [row] = await stack.db.query(
        `INSERT INTO subscribers (id, clinic_id, url, event_types, format, enabled, secret)
         VALUES (gen_random_uuid(), $1, $2, ARRAY['*'], 'cloudevents', true, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') RETURNING id`,
        [clinic.id, url],
      );
      ids.push(row.id);
    }
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = 'ssrf-canary-1';
    expect((await stack.send(clinic.apiKey, body)).status).toBe(200);

    const attempts = await eventually(
      async () => {
        const rows: Array<{ subscriber_id: string; outcome: string; error: string }> = await stack.db.query(
          `SELECT d.subscriber_id, a.outcome, a.error FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscriber_id = ANY($1::uuid[])`,
          [ids],
        );
        return new Set(rows.map((r) => r.subscriber_id)).size === ids.length && rows;
      },
      15_000,
      'an attempt for every bypassing subscriber',
    );
    expect(attempts.map((a) => a.outcome)).toEqual(attempts.map(() => 'blocked'));
    await new Promise((r) => setTimeout(r, 800)); // let the scaled retry run too
    expect(canary.requests).toHaveLength(0);
  });
});
