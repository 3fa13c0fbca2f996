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
  portalSessionId: string;
  /** The clinic's own console session: its cookie and CSRF token. */
  portal: { cookie: string; csrf: string };
}

/**
 * What clinic A's key (and A's portal session) sends to each route, aimed at clinic B's ids, and the status
 * it must get: 404 on clinic routes, 401 on operator-only ones, 200 only where the answer is the same for
 * every clinic (the event type catalog) — and never any of B's data.
 */
interface AttackCase {
  expect: 200 | 401 | 404;
  /** Routes about the caller's own portal session, not about tenant ids: left out of the session round. */
  ownSession?: true;
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
  'GET /admin/clinics/{id}/limits': OPERATOR_ONLY,
  'PATCH /admin/clinics/{id}/limits': { expect: 401, body: () => ({ max_subscribers: 0 }) },
  'GET /admin/audit': OPERATOR_ONLY,
  'GET /api/external/audit': { expect: 404, query: (b) => `?clinic_id=${b.id}` },
  'POST /api/external/webhook': { expect: 404, body: (b, a) => ({ clinic_id: b.id, webhook_url: a.webhookUrl }) },
  'GET /api/external/webhook': { expect: 404, query: (b) => `?clinic_id=${b.id}` },
  'GET /api/external/webhook/{id}': { expect: 404 },
  'PATCH /api/external/webhook/{id}': { expect: 404, body: (_b, a) => ({ enabled: false, webhook_url: a.webhookUrl }) },
  'DELETE /api/external/webhook/{id}': { expect: 404 },
  'POST /api/external/webhook/{id}/rotate-secret': { expect: 404, body: () => ({ overlap_seconds: 0 }) },
  'POST /admin/clinics/{id}/portal-sessions': { expect: 401, body: () => ({ ttl_seconds: 60 }) },
  'GET /admin/clinics/{id}/portal-sessions': OPERATOR_ONLY,
  'DELETE /admin/clinics/{id}/portal-sessions/{sessionId}': OPERATOR_ONLY,
  'POST /api/portal/session': { expect: 401, ownSession: true, body: () => ({ token: `swp_${'A'.repeat(43)}` }) },
  'GET /api/portal/session': { expect: 401, ownSession: true },
  'DELETE /api/portal/session': { expect: 401, ownSession: true },
  'GET /api/external/event-types': { expect: 200 },
  'GET /api/external/webhook-health': { expect: 404, query: (b) => `?clinic_id=${b.id}&webhook_id=${b.webhookId}` },
  'GET /api/external/webhook/{id}/secret': { expect: 404 },
  'POST /api/external/webhook/{id}/replay': { expect: 404, body: () => ({ dry_run: false }) },
  'POST /api/external/webhook/{id}/test': { expect: 404, body: () => ({}) },
  'GET /api/external/deliveries': { expect: 404, query: (b) => `?clinic_id=${b.id}&webhook_id=${b.webhookId}` },
  'GET /api/external/deliveries/{id}': { expect: 404 },
  'POST /api/external/deliveries/{id}/resend': { expect: 404 },
  'GET /api/external/delivery-stats': { expect: 404, query: (b) => `?clinic_id=${b.id}&webhook_id=${b.webhookId}` },
};

/** The id of B a path parameter stands for, by route. */
function fillPath(path: string, b: Tenant): string {
  const id = path.startsWith('/admin/clinics') ? b.id : /^\/(admin|api\/external)\/deliveries/.test(path) ? b.deliveryId : b.webhookId;
  return path.replace('{id}', id).replace('{keyId}', b.keyId).replace('{sessionId}', b.portalSessionId);
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
    const link = (await stack.admin('POST', `/admin/clinics/${clinic.id}/portal-sessions`, {})).body;
    const opened = await fetch(`${stack.adminUrl}/api/portal/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: new URL(link.url).hash.slice('#portal='.length) }),
    });
    const portal = { cookie: opened.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await opened.json()) as { csrf_token: string }).csrf_token };
    return { id: clinic.id, apiKey: clinic.apiKey, name, keyId, webhookId: sub.id, webhookUrl, deliveryId, eventId, portalSessionId: link.id, portal };
  }

  /** Every route (that `only` keeps) as A with `credentials`, aimed at B: the failures, with any of B's data leaked. */
  async function attack(credentials: Record<string, string>, only: (c: AttackCase) => boolean = () => true): Promise<string[]> {
    const secretsOfB = [b.id, b.name, b.keyId, b.webhookId, b.webhookUrl, b.deliveryId, b.eventId, b.portalSessionId];
    const failures: string[] = [];
    expect(routes).toHaveLength(Object.keys(MATRIX).length);
    for (const { method, path } of routes) {
      const c = MATRIX[`${method} ${path}`]!;
      if (!only(c)) continue;
      const res = await stack.admin(method, `${fillPath(path, b)}${c.query?.(b) ?? ''}`, bodyOf(method, c, b, a), credentials);
      const leaked = secretsOfB.filter((s) => JSON.stringify(res.body ?? '').includes(s));
      if (res.status !== c.expect || leaked.length) failures.push(`${method} ${path}: ${res.status} (want ${c.expect})${leaked.length ? ` leaked ${leaked}` : ''}`);
    }
    return failures;
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
    expect(await attack({ authorization: '', 'x-api-key': a.apiKey })).toEqual([]);
  });

  it("answers clinic A's portal session (cookie and CSRF token) on B's ids the same way", async () => {
    expect(await attack({ authorization: '', cookie: a.portal.cookie, 'x-csrf-token': a.portal.csrf }, (c) => !c.ownSession)).toEqual([]);
    // the session is still A's and live: the 404s above were not a dead cookie's 401s
    expect((await stack.admin('GET', '/api/portal/session', undefined, { authorization: '', cookie: a.portal.cookie })).body.clinic.id).toBe(a.id);
  });

  it('left all of B intact: webhook, key, clinic, delivery', async () => {
    const hook = await stack.admin('GET', `/api/external/webhook/${b.webhookId}`);
    expect(hook.body.data).toEqual(expect.objectContaining({ webhook_url: b.webhookUrl, enabled: true }));
    const clinic = await stack.admin('GET', `/admin/clinics/${b.id}`);
    expect(clinic.body).toEqual(expect.objectContaining({ enabled: true, keys: [expect.objectContaining({ key_id: b.keyId, revoked_at: null, expires_at: null })] }));
    expect((await stack.admin('GET', '/api/external/webhook', undefined, { authorization: '', 'x-api-key': b.apiKey })).body.data).toHaveLength(1);
    expect((await stack.admin('GET', `/admin/deliveries/${b.deliveryId}`)).body).toEqual(expect.objectContaining({ status: 'succeeded', attempt_count: 1 }));
    expect((await stack.admin('GET', '/api/external/deliveries', undefined, { authorization: '', 'x-api-key': b.apiKey })).body.items).toHaveLength(1);
    expect((await stack.admin('GET', `/admin/clinics/${b.id}/portal-sessions`)).body.items).toEqual([expect.objectContaining({ id: b.portalSessionId, revoked_at: null })]);
    expect((await stack.admin('GET', '/api/portal/session', undefined, { authorization: '', cookie: b.portal.cookie })).body.clinic.id).toBe(b.id);
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
