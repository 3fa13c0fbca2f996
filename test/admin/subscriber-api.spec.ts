import { TestStack } from '../support/stack';

/** Public IP literals: accepted in strict mode without a DNS lookup, and never contacted (no events are sent). */
const PUBLIC_URL = 'https://93.184.216.34/hooks/nimbus';
const OTHER_PUBLIC_URL = 'https://[2606:4700:4700::1111]/hooks/other';

describe('subscribers: Nimbus-compatible shapes, list/get/update, secret rotation, validation (strict URL policy)', () => {
  let stack: TestStack;
  let clinicId: string;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { ALLOW_INSECURE_SUBSCRIBER_URLS: 'false' }, ['admin']);
    clinicId = (await stack.createClinic('Subscriber Clinic')).id;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const create = (body: Record<string, unknown>) => stack.admin('POST', '/api/external/webhook', { clinic_id: clinicId, webhook_url: PUBLIC_URL, ...body });

  it('creates with the Nimbus shape and defaults, then gets, lists, updates and deletes', async () => {
    const created = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinicId, webhook_url: PUBLIC_URL });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ success: true, data: { webhook_id: expect.any(String), secret: expect.stringMatching(/^whsec_/) }, message: expect.any(String) });
    const id = created.body.data.webhook_id;

    const got = await stack.admin('GET', `/api/external/webhook/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual(
      expect.objectContaining({ webhook_id: id, clinic_id: clinicId, webhook_url: PUBLIC_URL, event_types: ['*'], format: 'cloudevents', enabled: true, api_key_set: false, timeout_ms: null }),
    );

    const patched = await stack.admin('PATCH', `/api/external/webhook/${id}`, {
      webhook_url: OTHER_PUBLIC_URL,
      event_types: ['shipment:created', 'medication:updated'],
      format: 'nimbus',
      enabled: false,
      api_key: 'downstream-key',
      timeout_ms: 2500,
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toEqual(
      expect.objectContaining({
        webhook_url: OTHER_PUBLIC_URL,
        event_types: ['shipment:created', 'medication:updated'],
        format: 'nimbus',
        enabled: false,
        disabled_reason: expect.any(String),
        api_key_set: true,
        timeout_ms: 2500,
      }),
    );
    const cleared = await stack.admin('PATCH', `/api/external/webhook/${id}`, { api_key: null, timeout_ms: null, enabled: true });
    expect(cleared.body.data).toEqual(expect.objectContaining({ api_key_set: false, timeout_ms: null, enabled: true, disabled_reason: null }));

    const list = await stack.admin('GET', `/api/external/webhook?clinic_id=${clinicId}`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((w: { webhook_id: string }) => w.webhook_id)).toContain(id);

    const removed = await stack.admin('DELETE', `/api/external/webhook/${id}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ success: true, data: { webhook_id: id }, message: expect.any(String) });
    expect((await stack.admin('GET', `/api/external/webhook/${id}`)).status).toBe(404);
    expect((await stack.admin('DELETE', `/api/external/webhook/${id}`)).status).toBe(404);
  });

  it('rotates the signing secret and returns the new one once', async () => {
    const created = await create({});
    const id = created.body.data.webhook_id;
    const rotated = await stack.admin('POST', `/api/external/webhook/${id}/rotate-secret`, { overlap_seconds: 60 });
    expect(rotated.status).toBe(201);
    expect(rotated.body.data).toEqual({ webhook_id: id, secret: expect.stringMatching(/^whsec_/) });
    expect(rotated.body.data.secret).not.toBe(created.body.data.secret);
    expect((await stack.admin('POST', `/api/external/webhook/${id}/rotate-secret`, { overlap_seconds: -5 })).status).toBe(400);
  });

  it.each([
    ['http:// in strict mode', { webhook_url: 'http://93.184.216.34/hook' }, /https/],
    ['userinfo', { webhook_url: 'https://user:hunter2pass@93.184.216.34/hook' }, /webhook_url/],
    ['not a URL', { webhook_url: 'not a url' }, /webhook_url/],
    ['a URL over 2048 characters', { webhook_url: `https://93.184.216.34/${'a'.repeat(2048)}` }, /webhook_url/],
    ['CR/LF in api_key', { api_key: 'abc\r\nX-Injected: 1' }, /api_key: must be visible ASCII/],
    // undici refuses such a header on every attempt (all deliveries dead-lettered), and sends U+0080–U+00FF as Latin-1 bytes
    ['Cyrillic in api_key', { webhook_url: 'https://93.184.216.34/hooks/cyrillic', api_key: 'ключ-123' }, /api_key: must be visible ASCII/],
    ['a Latin-1 letter in api_key', { webhook_url: 'https://93.184.216.34/hooks/latin-1', api_key: 'clé-123' }, /api_key: must be visible ASCII/],
    ['an api_key over 512 characters', { api_key: 'k'.repeat(513) }, /api_key/],
    ['an empty event filter', { event_types: [] }, /event_types/],
    ['a malformed event type', { event_types: ['shipment created'] }, /event_types/],
    ['an unknown format', { format: 'xml' }, /format/],
    ['timeout_ms below 100', { timeout_ms: 50 }, /timeout_ms/],
    ['timeout_ms above 30000', { timeout_ms: 30_001 }, /timeout_ms/],
    ['an unknown field', { secret: 'whsec_mine' }, /Unrecognized key/],
    ['a non-UUID clinic_id', { clinic_id: 'clinic-1' }, /clinic_id: must be a UUID/],
  ])('refuses %s with a clear 400, creating nothing', async (_what, body, message) => {
    const ids = async () => (await stack.admin('GET', `/api/external/webhook?clinic_id=${clinicId}`)).body.data.map((w: { webhook_id: string }) => w.webhook_id);
    const before = await ids();
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(JSON.stringify(res.body)).not.toContain('hunter2pass');
    expect(await ids()).toEqual(before);
  });

  it('refuses the same problems on update, and a missing clinic_id or an unknown clinic on create', async () => {
    const id = (await create({ webhook_url: 'https://93.184.216.34/hooks/third' })).body.data.webhook_id;
    const stored = (await stack.admin('GET', `/api/external/webhook/${id}`)).body.data;
    for (const [body, message] of [
      [{ webhook_url: 'http://93.184.216.34/' }, /https/],
      [{ api_key: 'a\nb' }, /api_key: must be visible ASCII/],
      [{ api_key: 'ключ-123' }, /api_key: must be visible ASCII/],
      [{ api_key: 'clé-123' }, /api_key: must be visible ASCII/],
      [{ clinic_id: clinicId }, /Unrecognized key/],
      [{ timeout_ms: 'fast' }, /timeout_ms/],
    ] as const) {
      const res = await stack.admin('PATCH', `/api/external/webhook/${id}`, body);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    // none of the refused updates changed the webhook (it still has no api_key)
    expect((await stack.admin('GET', `/api/external/webhook/${id}`)).body.data).toEqual(stored);
    const missing = await stack.admin('POST', '/api/external/webhook', { webhook_url: PUBLIC_URL });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/clinic_id: is required/);
    const unknown = await create({ clinic_id: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(404);
  });
});
