import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { LogCapture } from '../support/log-capture';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

const AUTH_CACHE_TTL_MS = 300;
let seq = 0;
const event = () => {
  const body = clone(nimbusFixtures['shipment:created']);
  body.event_data.shipment_id = `keys-${process.pid}-${++seq}`;
  return body;
};

describe('clinics and keys: onboarding, disable, rotation with grace, revocation, no secret leaks', () => {
  let stack: TestStack;
  let receiver: TestReceiver;
  const logs = new LogCapture();
  /** Every key and secret this file has seen: none may appear in a later response or in a log line. */
  const secrets: string[] = [];

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { AUTH_CACHE_TTL: `${AUTH_CACHE_TTL_MS}ms`, LOG_LEVEL: 'debug' }, ['dedupe', 'ingress', 'fanout', 'admin'], { logs });
    receiver = await new TestReceiver().start();
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  /** Every ingress answer body: none may echo a key either. */
  const ingressBodies: string[] = [];
  const ingressStatus = async (key: string) => {
    const res = await stack.send(key, event());
    ingressBodies.push(JSON.stringify(res.body));
    return res.status;
  };
  const waitForIngress = (key: string, status: number, what: string) =>
    eventually(async () => (await ingressStatus(key)) === status, AUTH_CACHE_TTL_MS + 3_000, what);

  it('creates a clinic, shows its key once, lists and gets it with key hints only', async () => {
    const created = await stack.admin('POST', '/admin/clinics', { name: 'Onboarding Clinic' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), name: 'Onboarding Clinic', enabled: true, created_at: expect.any(String), api_key: expect.stringMatching(/^swy_[0-9A-Za-z]{40}$/) });
    secrets.push(created.body.api_key);

    const list = await stack.admin('GET', '/admin/clinics');
    expect(list.status).toBe(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toContain(created.body.id);
    const got = await stack.admin('GET', `/admin/clinics/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.keys).toEqual([expect.objectContaining({ hint: `swy_…${created.body.api_key.slice(-4)}`, revoked_at: null })]);
    for (const res of [list, got]) expect(JSON.stringify(res.body)).not.toContain(created.body.api_key);
    expect(await ingressStatus(created.body.api_key)).toBe(200);
  });

  it('refuses bad clinic input with a clear 400 and unknown ids with 404', async () => {
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(201) }, { name: 'ok', extra: 1 }]) {
      const res = await stack.admin('POST', '/admin/clinics', body);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual(expect.objectContaining({ code: 'validation_failed', message: expect.any(String) }));
    }
    expect((await stack.admin('PATCH', '/admin/clinics/not-a-uuid', { enabled: false })).status).toBe(404);
    expect((await stack.admin('GET', '/admin/clinics/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await stack.admin('POST', '/admin/clinics/00000000-0000-4000-8000-000000000000/keys', {})).status).toBe(404);
  });

  it("disabling a clinic stops its webhooks at ingress within AUTH_CACHE_TTL; enabling restores them", async () => {
    const clinic = await stack.createClinic('Disable Me');
    secrets.push(clinic.apiKey);
    expect(await ingressStatus(clinic.apiKey)).toBe(200);
    const off = await stack.admin('PATCH', `/admin/clinics/${clinic.id}`, { enabled: false });
    expect(off.status).toBe(200);
    expect(off.body.enabled).toBe(false);
    const started = Date.now();
    await waitForIngress(clinic.apiKey, 401, 'ingress to refuse a disabled clinic');
    expect(Date.now() - started).toBeLessThan(AUTH_CACHE_TTL_MS + 1_000);
    // admin invalidates its own cache: the clinic's key is refused there at once
    expect((await stack.admin('GET', `/api/external/webhook`, undefined, { authorization: '', 'x-api-key': clinic.apiKey })).status).toBe(401);
    expect((await stack.admin('PATCH', `/admin/clinics/${clinic.id}`, { enabled: true })).status).toBe(200);
    await waitForIngress(clinic.apiKey, 200, 'ingress to accept the re-enabled clinic');
  });

  it('rotation: the old key works during grace_seconds, then gets 401; the new key works', async () => {
    const clinic = await stack.createClinic('Rotate Me');
    secrets.push(clinic.apiKey);
    const issued = await stack.admin('POST', `/admin/clinics/${clinic.id}/keys`, { grace_seconds: 1 });
    expect(issued.status).toBe(201);
    expect(issued.body).toEqual({ key_id: expect.any(String), api_key: expect.stringMatching(/^swy_/) });
    secrets.push(issued.body.api_key);
    expect(await ingressStatus(issued.body.api_key)).toBe(200);
    expect(await ingressStatus(clinic.apiKey)).toBe(200); // within the grace period
    await new Promise((r) => setTimeout(r, 1_000));
    await waitForIngress(clinic.apiKey, 401, 'the old key to expire after its grace');
    expect(await ingressStatus(issued.body.api_key)).toBe(200);
    const got = await stack.admin('GET', `/admin/clinics/${clinic.id}`);
    expect(got.body.keys).toHaveLength(2);
    expect(got.body.keys[0].expires_at).not.toBeNull();
    for (const bad of [{ grace_seconds: -1 }, { grace_seconds: 'soon' }, { grace: 1 }]) {
      expect((await stack.admin('POST', `/admin/clinics/${clinic.id}/keys`, bad)).status).toBe(400);
    }
  });

  it('revocation: 401 at ingress within AUTH_CACHE_TTL and at once on admin; revoking again is 404', async () => {
    const clinic = await stack.createClinic('Revoke Me');
    secrets.push(clinic.apiKey);
    const asClinic = { authorization: '', 'x-api-key': clinic.apiKey };
    expect((await stack.admin('GET', '/api/external/webhook', undefined, asClinic)).status).toBe(200);
    expect(await ingressStatus(clinic.apiKey)).toBe(200);
    const keyId = (await stack.admin('GET', `/admin/clinics/${clinic.id}`)).body.keys[0].key_id;
    expect((await stack.admin('DELETE', `/admin/clinics/${clinic.id}/keys/${keyId}`)).status).toBe(204);
    expect((await stack.admin('GET', '/api/external/webhook', undefined, asClinic)).status).toBe(401);
    await waitForIngress(clinic.apiKey, 401, 'ingress to refuse a revoked key');
    expect((await stack.admin('DELETE', `/admin/clinics/${clinic.id}/keys/${keyId}`)).status).toBe(404);
  });

  it('pages through the clinic list with limit and after', async () => {
    const everything = (await stack.admin('GET', '/admin/clinics?limit=500')).body.items.map((c: { id: string }) => c.id);
    expect(everything.length).toBeGreaterThanOrEqual(4);
    const paged: string[] = [];
    let after: string | null = null;
    do {
      const page: { status: number; body: { items: Array<{ id: string }>; next_cursor: string | null } } = await stack.admin('GET', `/admin/clinics?limit=2${after ? `&after=${after}` : ''}`);
      expect(page.status).toBe(200);
      paged.push(...page.body.items.map((c) => c.id));
      after = page.body.next_cursor;
    } while (after && paged.length <= everything.length);
    expect(paged).toEqual(everything);
    expect((await stack.admin('GET', '/admin/clinics?limit=0')).status).toBe(400);
  });

  it('a subscriber shows api_key_set, never its api_key or signing secret', async () => {
    const clinic = await stack.createClinic('Subscriber Secrets');
    secrets.push(clinic.apiKey);
    const subscriberKey = 'receiver-key-0b1c2d3e4f';
    secrets.push(subscriberKey);
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { api_key: subscriberKey });
    secrets.push(sub.secret);
    const rotated = await stack.admin('POST', `/api/external/webhook/${sub.id}/rotate-secret`, { overlap_seconds: 0 });
    expect(rotated.body.data.secret).toMatch(/^whsec_/);
    secrets.push(rotated.body.data.secret);
    // A real delivery, so fan-out has used the subscriber's api_key and both secrets (logged at debug).
    const sent = await fetch(`${stack.ingressUrl}/webhooks/nimbus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': clinic.apiKey },
      body: JSON.stringify({ event_name: 'shipment:created', event_data: { shipment_id: 'sec-1', medication_orders: ['m1'] } }),
    });
    expect(sent.status).toBe(200);
    await receiver.waitFor(1);
    expect(receiver.requests[0]!.headers['x-api-key']).toBe(subscriberKey);
    const views = [
      await stack.admin('GET', `/api/external/webhook/${sub.id}`),
      await stack.admin('GET', `/api/external/webhook?clinic_id=${clinic.id}`),
      await stack.admin('PATCH', `/api/external/webhook/${sub.id}`, { event_types: ['shipment:created'] }),
      await stack.admin('GET', `/admin/clinics/${clinic.id}`),
    ];
    for (const res of views) {
      expect(res.status).toBe(200);
      for (const s of secrets) expect(JSON.stringify(res.body)).not.toContain(s);
    }
    expect(views[0]!.body.data).toEqual(expect.objectContaining({ api_key_set: true }));
    expect(views[0]!.body.data).not.toHaveProperty('secret');
    expect(views[0]!.body.data).not.toHaveProperty('api_key');
  });

  it('never writes a key or a secret to a log line (dedupe, ingress, fanout, admin logs at debug) or an ingress answer', async () => {
    expect(await ingressStatus(`swy_${'A'.repeat(40)}`)).toBe(401); // a malformed key is refused, and not logged either
    await new Promise((r) => setTimeout(r, 200));
    const apps = new Set(logs.lines.map((l) => JSON.parse(l).app));
    expect([...apps].sort()).toEqual(['admin', 'dedupe', 'fanout', 'ingress']);
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    expect(logs.linesContaining(secrets)).toEqual([]);
    expect(ingressBodies.filter((b) => secrets.some((s) => b.includes(s)))).toEqual([]);
    expect(logs.linesContaining([stack.config.ADMIN_TOKEN])).toEqual([]);
  });
});
