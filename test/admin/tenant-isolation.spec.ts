import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestReceiver } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';

interface Tenant {
  id: string;
  apiKey: string;
  name: string;
  keyId: string;
  webhookId: string;
  webhookUrl: string;
  deliveryId: string;
  eventId: string;
}

/** What clinic A's key sends to each route, aimed at clinic B's ids, and the status it must get. */
interface AttackCase {
  expect: 401 | 404;
  query?: (b: Tenant) => string;
  body?: (b: Tenant, a: Tenant) => unknown;
}

const OPERATOR_ONLY: AttackCase = { expect: 401, query: (b) => `?clinic_id=${b.id}`, body: (b) => ({ clinic_id: b.id }) };

/**
 * One case per route of the OpenAPI document. A route added to the app without a case here fails the
 * matrix, so a new route cannot escape the isolation check.
 */
const MATRIX: Record<string, AttackCase> = {
  'POST /admin/clinics': { expect: 401, body: () => ({ name: 'Intruder' }) },
  'GET /admin/clinics': OPERATOR_ONLY,
  'GET /admin/clinics/{id}': OPERATOR_ONLY,
  'PATCH /admin/clinics/{id}': { expect: 401, body: () => ({ enabled: false }) },
  'POST /admin/clinics/{id}/keys': { expect: 401, body: () => ({ grace_seconds: 0 }) },
  'DELETE /admin/clinics/{id}/keys/{keyId}': OPERATOR_ONLY,
  'GET /admin/deliveries': OPERATOR_ONLY,
  'GET /admin/deliveries/{id}': OPERATOR_ONLY,
  'GET /admin/dead-letters': OPERATOR_ONLY,
  'POST /admin/dead-letters/replay': { expect: 401, body: (b) => ({ clinic_id: b.id }) },
  'POST /api/external/webhook': { expect: 404, body: (b, a) => ({ clinic_id: b.id, webhook_url: a.webhookUrl }) },
  'GET /api/external/webhook': { expect: 404, query: (b) => `?clinic_id=${b.id}` },
  'GET /api/external/webhook/{id}': { expect: 404 },
  'PATCH /api/external/webhook/{id}': { expect: 404, body: (_b, a) => ({ enabled: false, webhook_url: a.webhookUrl }) },
  'DELETE /api/external/webhook/{id}': { expect: 404 },
  'POST /api/external/webhook/{id}/rotate-secret': { expect: 404, body: () => ({ overlap_seconds: 0 }) },
};

/** The id of B a path parameter stands for, by route. */
function fillPath(path: string, b: Tenant): string {
  const id = path.startsWith('/admin/clinics') ? b.id : path.startsWith('/admin/deliveries') ? b.deliveryId : b.webhookId;
  return path.replace('{id}', id).replace('{keyId}', b.keyId);
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];
/** The body a case sends, for the methods that carry one. */
const bodyOf = (method: string, c: AttackCase, target: Tenant, caller: Tenant) => (['POST', 'PUT', 'PATCH'].includes(method) ? c.body?.(target, caller) : undefined);

describe('tenant isolation: every admin route × clinic A\'s key × clinic B\'s ids', () => {
  let stack: TestStack;
  let receiver: TestReceiver;
  let a: Tenant;
  let b: Tenant;
  let routes: Array<{ method: string; path: string }>;

  async function onboard(name: string): Promise<Tenant> {
    const clinic = await stack.createClinic(name);
    const keyId = (await stack.admin('GET', `/admin/clinics/${clinic.id}`)).body.keys[0].key_id;
    const webhookUrl = `${receiver.url}/${name.replace(/\W/g, '-')}`;
    const sub = await stack.createSubscriber(clinic.id, webhookUrl);
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = `isolation-${name}`;
    const eventId = (await stack.send(clinic.apiKey, body)).body.event_id;
    const deliveryId = await eventually(async () => (await stack.admin('GET', `/admin/deliveries?webhook_id=${sub.id}`)).body.items[0]?.id, 10_000, `${name}'s delivery`);
    return { id: clinic.id, apiKey: clinic.apiKey, name, keyId, webhookId: sub.id, webhookUrl, deliveryId, eventId };
  }

  beforeAll(async () => {
    stack = await TestStack.start(__filename);
    receiver = await new TestReceiver().start();
    a = await onboard('Clinic Alpha');
    b = await onboard('Clinic Bravo');
    const doc = (await stack.admin('GET', '/docs-json')).body;
    // Paths with servers of their own are another app's (ingress's POST /webhooks/nimbus).
    routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([, ops]) => !ops.servers)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => HTTP_METHODS.includes(m))
          .map((m) => ({ method: m.toUpperCase(), path })),
      );
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  it('has a case for every route in the running app\'s OpenAPI document, and no stale case', () => {
    const documented = routes.map((r) => `${r.method} ${r.path}`).sort();
    expect(documented.filter((r) => !(r in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((r) => !documented.includes(r))).toEqual([]);
    console.log(`isolation matrix: ${documented.length} routes`);
  });

  it("answers clinic A's key on B's ids with 404 (401 on operator-only routes) and shows none of B's data", async () => {
    const secretsOfB = [b.id, b.name, b.keyId, b.webhookId, b.webhookUrl, b.deliveryId, b.eventId];
    const failures: string[] = [];
    expect(routes).toHaveLength(Object.keys(MATRIX).length);
    for (const { method, path } of routes) {
      const c = MATRIX[`${method} ${path}`]!;
      const res = await stack.admin(method, `${fillPath(path, b)}${c.query?.(b) ?? ''}`, bodyOf(method, c, b, a), { authorization: '', 'x-api-key': a.apiKey });
      const leaked = secretsOfB.filter((s) => JSON.stringify(res.body ?? '').includes(s));
      if (res.status !== c.expect || leaked.length) failures.push(`${method} ${path}: ${res.status} (want ${c.expect})${leaked.length ? ` leaked ${leaked}` : ''}`);
    }
    expect(failures).toEqual([]);
  });

  it('left all of B intact: webhook, key, clinic, delivery', async () => {
    const hook = await stack.admin('GET', `/api/external/webhook/${b.webhookId}`);
    expect(hook.body.data).toEqual(expect.objectContaining({ webhook_url: b.webhookUrl, enabled: true }));
    const clinic = await stack.admin('GET', `/admin/clinics/${b.id}`);
    expect(clinic.body).toEqual(expect.objectContaining({ enabled: true, keys: [expect.objectContaining({ key_id: b.keyId, revoked_at: null, expires_at: null })] }));
    expect((await stack.admin('GET', '/api/external/webhook', undefined, { authorization: '', 'x-api-key': b.apiKey })).body.data).toHaveLength(1);
  });

  it('refuses every route without credentials or with a wrong admin token (401)', async () => {
    expect(routes).toHaveLength(Object.keys(MATRIX).length);
    for (const { method, path } of routes) {
      for (const headers of [{ authorization: '' }, { authorization: 'Bearer wrong-token-wrong-token' }]) {
        const res = await stack.admin(method, fillPath(path, a), bodyOf(method, MATRIX[`${method} ${path}`]!, a, a), headers);
        expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 401`);
      }
    }
  });

  it("gives a clinic only its own webhooks when it lists without clinic_id, and itself when it names itself", async () => {
    const own = await stack.admin('GET', '/api/external/webhook', undefined, { authorization: '', 'x-api-key': a.apiKey });
    expect(own.status).toBe(200);
    expect(own.body.data.map((w: { webhook_id: string }) => w.webhook_id)).toEqual([a.webhookId]);
    const named = await stack.admin('GET', `/api/external/webhook?clinic_id=${a.id}`, undefined, { authorization: '', 'x-api-key': a.apiKey });
    expect(named.body.data.map((w: { webhook_id: string }) => w.webhook_id)).toEqual([a.webhookId]);
    expect((await stack.admin('GET', `/api/external/webhook/${a.webhookId}`, undefined, { authorization: '', 'x-api-key': a.apiKey })).status).toBe(200);
    const patched = await stack.admin('PATCH', `/api/external/webhook/${a.webhookId}`, { event_types: ['*'] }, { authorization: '', 'x-api-key': a.apiKey });
    expect(patched.status).toBe(200);
  });

  it('lets the operator see every clinic\'s data', async () => {
    for (const t of [a, b]) {
      expect((await stack.admin('GET', `/admin/clinics/${t.id}`)).status).toBe(200);
      expect((await stack.admin('GET', `/api/external/webhook/${t.webhookId}`)).body.data.clinic_id).toBe(t.id);
      expect((await stack.admin('GET', `/api/external/webhook?clinic_id=${t.id}`)).body.data).toHaveLength(1);
      expect((await stack.admin('GET', `/admin/deliveries/${t.deliveryId}`)).body.clinic_id).toBe(t.id);
    }
    const all = (await stack.admin('GET', '/admin/deliveries')).body.items.map((d: { clinic_id: string }) => d.clinic_id);
    expect(new Set(all)).toEqual(new Set([a.id, b.id]));
    const clinics = (await stack.admin('GET', '/admin/clinics')).body.items.map((c: { id: string }) => c.id);
    expect(clinics).toEqual(expect.arrayContaining([a.id, b.id]));
    // an operator names the clinic whose webhooks it lists (there is no unbounded cross-tenant listing)
    const unnamed = await stack.admin('GET', '/api/external/webhook');
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.error.message).toBe('clinic_id: is required');
  });
});
