import { randomUUID } from 'node:crypto';
import { ApiKeyRepository } from '@switchyard/persistence';
import { generateApiKey, hashApiKey, keyHint } from '@switchyard/tenancy';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { LogCapture } from '../support/log-capture';
import { TestStack, eventually } from '../support/stack';

let seq = 0;
const event = () => {
  const body = clone(nimbusFixtures['shipment:created']);
  body.event_data.shipment_id = `auth-changes-${process.pid}-${++seq}`;
  return body;
};

/**
 * Ingress with AUTH_CACHE_TTL far longer than any case: a change through the admin API (or straight into
 * Postgres) can only show at once because its notification reaches ingress.
 */
describe('ingress hears key, clinic and ingress limit changes at commit', () => {
  let stack: TestStack;
  const logs = new LogCapture();

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { AUTH_CACHE_TTL: '1m', AUTH_CACHE_MAX_AGE: '10m', LOG_LEVEL: 'info' }, ['dedupe', 'ingress', 'admin'], { logs });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const status = async (apiKey: string) => (await stack.send(apiKey, event())).status;
  /** Within a second of the change: well inside AUTH_CACHE_TTL. */
  const becomes = (apiKey: string, expected: number, what: string) => eventually(async () => (await status(apiKey)) === expected, 1_000, what);

  it('says in its log that it listens', async () => {
    await eventually(() => logs.lines.some((l) => JSON.parse(l).app === 'ingress' && l.includes('listening for key, clinic and ingress limit changes')), 2_000);
  });

  it('refuses a key revoked through the admin API within a second', async () => {
    const clinic = await stack.createClinic('Revoked at once');
    expect(await status(clinic.apiKey)).toBe(200);
    const keyId = (await stack.admin('GET', `/admin/clinics/${clinic.id}`)).body.keys[0].key_id;
    expect((await stack.admin('DELETE', `/admin/clinics/${clinic.id}/keys/${keyId}`)).status).toBe(204);
    await becomes(clinic.apiKey, 401, 'ingress to refuse the revoked key');
  });

  it('refuses a disabled clinic within a second, and accepts it again within a second', async () => {
    const clinic = await stack.createClinic('Disabled at once');
    expect(await status(clinic.apiKey)).toBe(200);
    expect((await stack.admin('PATCH', `/admin/clinics/${clinic.id}`, { enabled: false })).status).toBe(200);
    await becomes(clinic.apiKey, 401, 'ingress to refuse the disabled clinic');
    expect((await stack.admin('PATCH', `/admin/clinics/${clinic.id}`, { enabled: true })).status).toBe(200);
    await becomes(clinic.apiKey, 200, 'ingress to accept the enabled clinic');
  });

  it('accepts a key as soon as it is stored, after it was refused as unknown', async () => {
    const clinic = await stack.createClinic('New key');
    const apiKey = generateApiKey();
    expect(await status(apiKey)).toBe(401);
    const row = { id: randomUUID(), keyHash: hashApiKey(apiKey, stack.config.KEY_PEPPER), hint: keyHint(apiKey) };
    expect(await new ApiKeyRepository(stack.db).issue(clinic.id, row, 3_600)).toBe(true);
    await becomes(apiKey, 200, 'ingress to accept the new key');
  });

  it('applies an ingress limit set through the admin API at once, and its removal', async () => {
    const clinic = await stack.createClinic('Limited at once');
    expect(await status(clinic.apiKey)).toBe(200); // the clinic's rate (no limit) is cached now
    const limited = await stack.admin('PATCH', `/admin/clinics/${clinic.id}/limits`, { ingress_rate_per_second: 0.1, ingress_burst: 1 });
    expect(limited.status).toBe(200);
    await becomes(clinic.apiKey, 429, 'ingress to limit the clinic');
    expect((await stack.admin('PATCH', `/admin/clinics/${clinic.id}/limits`, { ingress_rate_per_second: null, ingress_burst: null })).status).toBe(200);
    await becomes(clinic.apiKey, 200, 'ingress to stop limiting the clinic');
  });
});
