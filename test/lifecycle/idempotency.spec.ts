import { randomUUID } from 'node:crypto';
import { TestStack } from '../support/stack';

const url = (name: string) => `http://127.0.0.1:9/${name}`;

/**
 * Idempotent writes: every admin POST takes an `Idempotency-Key`; a retry answers the first result, another
 * request under the same key is a 422, keys are per clinic (or the operator) and expire; one URL is
 * registered once per clinic (409 otherwise).
 */
describe('Idempotency-Key on admin POSTs', () => {
  let stack: TestStack;
  let clinic: { id: string; apiKey: string };
  const asClinic = (c: { apiKey: string }, key: string) => ({ authorization: '', 'x-api-key': c.apiKey, 'idempotency-key': key });
  const webhooks = async (clinicId: string) => (await stack.admin('GET', `/api/external/webhook?clinic_id=${clinicId}`)).body.data as Array<{ webhook_id: string }>;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { ADMIN_IDEMPOTENCY_TTL: '2s' }, ['admin']);
    clinic = await stack.createClinic('Retrying clinic');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers a retried create with the first result (status, body, secret) and creates one webhook', async () => {
    const key = randomUUID();
    const body = { clinic_id: clinic.id, webhook_url: url('retried') };
    const first = await stack.admin('POST', '/api/external/webhook', body, asClinic(clinic, key));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const retry = await stack.admin('POST', '/api/external/webhook', { webhook_url: url('retried'), clinic_id: clinic.id }, asClinic(clinic, key));
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect((await webhooks(clinic.id)).filter((w) => w.webhook_id === first.body.data.webhook_id)).toHaveLength(1);
    // without the key, registering the same URL again is refused, naming the webhook it already is
    const again = await stack.admin('POST', '/api/external/webhook', body, { authorization: '', 'x-api-key': clinic.apiKey });
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual(expect.objectContaining({ code: 'webhook_exists', details: { webhook_id: first.body.data.webhook_id } }));
  });

  it('refuses the same key with another body or on another route (422), and a malformed key (400)', async () => {
    const key = randomUUID();
    expect((await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url('k1') }, asClinic(clinic, key))).status).toBe(201);
    const other = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url('k2') }, asClinic(clinic, key));
    expect(other.status).toBe(422);
    expect(other.body.error).toEqual({ code: 'idempotency_key_reused', message: expect.stringMatching(/^Idempotency-Key: was already used for another request/) });
    const hook = (await webhooks(clinic.id))[0]!.webhook_id;
    expect((await stack.admin('POST', `/api/external/webhook/${hook}/rotate-secret`, {}, asClinic(clinic, key))).status).toBe(422);
    expect((await webhooks(clinic.id)).some((w) => w.webhook_id === hook)).toBe(true);
    for (const bad of ['', 'x'.repeat(256), 'two words']) {
      const res = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url('bad') }, asClinic(clinic, bad));
      expect(`${JSON.stringify(bad)} ${res.status} ${res.body.error?.code}`).toBe(`${JSON.stringify(bad)} 400 invalid_idempotency_key`);
    }
  });

  it('keeps keys apart per clinic: two clinics may use the same key for their own requests', async () => {
    const other = await stack.createClinic('Other retrying clinic');
    const key = randomUUID();
    const mine = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url('shared-key') }, asClinic(clinic, key));
    const theirs = await stack.admin('POST', '/api/external/webhook', { clinic_id: other.id, webhook_url: url('shared-key') }, asClinic(other, key));
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.body.data.webhook_id).not.toBe(mine.body.data.webhook_id);
  });

  it('runs two concurrent identical requests once: one creates, the other gets the first answer or a 409 to retry', async () => {
    const key = randomUUID();
    const send = () => stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url('concurrent') }, asClinic(clinic, key));
    const answers = await Promise.all([send(), send(), send(), send()]);
    const created = answers.filter((a) => a.status === 201);
    expect(answers.every((a) => a.status === 201 || (a.status === 409 && a.body.error.code === 'idempotency_in_progress' && a.headers.get('retry-after') === '1'))).toBe(true);
    expect(new Set(created.map((a) => a.body.data.webhook_id)).size).toBe(1);
    const retried = await send();
    expect(retried.status).toBe(201);
    expect(retried.body.data.webhook_id).toBe(created[0]!.body.data.webhook_id);
    expect((await webhooks(clinic.id)).filter((w) => w.webhook_id === retried.body.data.webhook_id)).toHaveLength(1);
  });

  it('forgets a request that failed, so its corrected retry runs under the same key', async () => {
    const key = randomUUID();
    const refused = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: 'not a url' }, asClinic(clinic, key));
    expect(refused.status).toBe(400);
    const fixed = await stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: url('fixed') }, asClinic(clinic, key));
    expect(fixed.status).toBe(201);
  });

  it("replays an operator's clinic creation (the key shown once is answered again to that retry) and forgets keys after ADMIN_IDEMPOTENCY_TTL", async () => {
    const key = randomUUID();
    const first = await stack.admin('POST', '/admin/clinics', { name: 'Created once' }, { 'idempotency-key': key });
    const retry = await stack.admin('POST', '/admin/clinics', { name: 'Created once' }, { 'idempotency-key': key });
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    await new Promise((r) => setTimeout(r, 2_100));
    const later = await stack.admin('POST', '/admin/clinics', { name: 'Created once' }, { 'idempotency-key': key });
    expect(later.status).toBe(201);
    expect(later.body.id).not.toBe(first.body.id);
  });
});
