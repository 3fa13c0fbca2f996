import { randomUUID } from 'node:crypto';
import { TestStack } from '../support/stack';

const url = (name: string) => `http://127.0.0.1:9/${name}`;
const PORTAL_SESSION_PATH = '/api/portal/session';
type Entry = { id: string; actor: { kind: string; id: string | null }; clinic_id: string | null; method: string; route: string; target_id: string | null; fields: string[]; request_id: string; status: number; outcome: string; error_code: string | null };

/**
 * The audit trail: every write through the admin app — operator or clinic key, any controller, succeeded or
 * refused after authentication — is recorded with who, what, target, when, request id and outcome, and
 * listed for operators (all) and for a clinic (its own); no entry holds a secret.
 */
describe('audit trail of admin and clinic writes', () => {
  let stack: TestStack;
  let a: { id: string; apiKey: string };
  let b: { id: string; apiKey: string };
  let keyIdA: string;
  const secrets: string[] = [];
  const asClinic = (c: { apiKey: string }, extra: Record<string, string> = {}) => ({ authorization: '', 'x-api-key': c.apiKey, ...extra });

  const all = async (path: string, headers: Record<string, string> = {}): Promise<Entry[]> => {
    const items: Entry[] = [];
    for (let cursor: string | null = null; ; ) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await stack.admin('GET', `${path}${sep}limit=3${cursor ? `&cursor=${cursor}` : ''}`, undefined, headers);
      expect(page.status).toBe(200);
      items.push(...page.body.items);
      cursor = page.body.next_cursor;
      if (!cursor) return items;
    }
  };

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['admin']);
    a = await stack.createClinic('Audited A');
    b = await stack.createClinic('Audited B');
    secrets.push(a.apiKey, b.apiKey);
    keyIdA = (await stack.admin('GET', `/admin/clinics/${a.id}`)).body.keys[0].key_id;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("records who did what to which target, with the request id and outcome; a clinic lists its own entries only", async () => {
    const requestId = `req-${randomUUID()}`;
    const apiKey = `downstream-${randomUUID()}`;
    const created = await stack.admin('POST', '/api/external/webhook', { clinic_id: a.id, webhook_url: url('a'), api_key: apiKey }, asClinic(a, { 'x-request-id': requestId }));
    expect(created.status).toBe(201);
    expect(created.headers.get('x-request-id')).toBe(requestId);
    const hook = created.body.data.webhook_id;
    secrets.push(apiKey, created.body.data.secret);
    const rotated = await stack.admin('POST', `/api/external/webhook/${hook}/rotate-secret`, { overlap_seconds: 60 }, asClinic(a));
    secrets.push(rotated.body.data.secret);
    expect((await stack.admin('PATCH', `/api/external/webhook/${hook}`, { timeout_ms: 'slow' }, asClinic(a))).status).toBe(400);
    expect((await stack.admin('GET', `/api/external/webhook/${hook}`, undefined, asClinic(a))).status).toBe(200); // a read: not recorded
    const issued = await stack.admin('POST', `/admin/clinics/${a.id}/keys`, { grace_seconds: 3600 });
    secrets.push(issued.body.api_key);
    expect((await stack.admin('DELETE', `/api/external/webhook/${hook}`)).status).toBe(200); // the operator, on A's webhook
    const hookB = (await stack.admin('POST', '/api/external/webhook', { clinic_id: b.id, webhook_url: url('b') }, asClinic(b))).body.data;
    secrets.push(hookB.secret);

    const mine = await all('/api/external/audit', asClinic(a));
    expect(mine.map((e) => [e.actor.kind, e.method, e.route, e.status, e.outcome])).toEqual([
      ['operator', 'DELETE', '/api/external/webhook/:id', 200, 'succeeded'],
      ['operator', 'POST', '/admin/clinics/:id/keys', 201, 'succeeded'],
      ['clinic_key', 'PATCH', '/api/external/webhook/:id', 400, 'failed'],
      ['clinic_key', 'POST', '/api/external/webhook/:id/rotate-secret', 201, 'succeeded'],
      ['clinic_key', 'POST', '/api/external/webhook', 201, 'succeeded'],
      ['operator', 'POST', '/admin/clinics', 201, 'succeeded'],
    ]);
    const [deleted, keyIssued, refused, rotation, creation, clinicCreated] = mine;
    expect(creation).toEqual(expect.objectContaining({ actor: { kind: 'clinic_key', id: keyIdA }, clinic_id: a.id, target_id: hook, request_id: requestId, fields: ['api_key', 'clinic_id', 'webhook_url'] }));
    expect(rotation!.target_id).toBe(hook);
    expect(refused).toEqual(expect.objectContaining({ target_id: hook, error_code: 'validation_failed', fields: ['timeout_ms'] }));
    expect(keyIssued).toEqual(expect.objectContaining({ actor: { kind: 'operator', id: null }, clinic_id: a.id, target_id: issued.body.key_id }));
    expect(deleted).toEqual(expect.objectContaining({ clinic_id: a.id, target_id: hook }));
    expect(clinicCreated).toEqual(expect.objectContaining({ clinic_id: a.id, target_id: a.id, fields: ['name'] }));
    expect(new Set(mine.map((e) => e.request_id)).size).toBe(mine.length);

    // B sees only its own; A's entries never name B's ids and B's never name A's
    const theirs = await all('/api/external/audit', asClinic(b));
    expect(theirs.map((e) => e.target_id)).toEqual([hookB.webhook_id, b.id]);
    expect(JSON.stringify(mine)).not.toContain(b.id);
    // the operator sees both, and filters
    const everything = await all('/admin/audit');
    expect(everything.length).toBeGreaterThanOrEqual(mine.length + theirs.length);
    expect((await all(`/admin/audit?clinic_id=${a.id}&method=DELETE`)).map((e) => e.target_id)).toEqual([hook]);
    expect((await all(`/admin/audit?target_id=${hook}&actor=clinic_key`)).map((e) => e.method)).toEqual(['PATCH', 'POST', 'POST']);
    expect((await all(`/api/external/audit?clinic_id=${a.id}`)).length).toBe(mine.length); // an operator names the clinic
    // no entry holds a key or a secret
    const text = JSON.stringify(everything);
    expect(secrets.filter((s) => text.includes(s))).toEqual([]);
  });

  it('records a write on every route of the OpenAPI document, whichever controller serves it', async () => {
    const doc = (await stack.admin('GET', '/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const writes = Object.entries(doc.paths)
      // A path with servers of its own is another app's (ingress's POST /webhooks/nimbus), not an admin write.
      .filter(([, ops]) => !ops.servers)
      .flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['post', 'put', 'patch', 'delete'].includes(m))
        // The portal session's own routes take the link token or the session cookie, not the admin token (next case).
        .filter(() => path !== PORTAL_SESSION_PATH)
        .map((m) => ({ method: m.toUpperCase(), path })),
    );
    expect(writes.length).toBeGreaterThanOrEqual(10);
    const missing: string[] = [];
    for (const w of writes) {
      const requestId = `route-${randomUUID()}`;
      // ids that exist nowhere and an empty body: each route answers 4xx, which is recorded too
      const path = w.path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      await stack.admin(w.method, path, ['POST', 'PUT', 'PATCH'].includes(w.method) ? {} : undefined, { 'x-request-id': requestId });
      const found = (await stack.admin('GET', '/admin/audit?limit=20')).body.items.find((e: Entry) => e.request_id === requestId);
      const route = w.path.replace(/\{([^}]+)\}/g, ':$1');
      if (!found || found.method !== w.method || found.route !== route) missing.push(`${w.method} ${w.path}`);
    }
    expect(missing).toEqual([]);
    // Pages walk every entry, newest first by number (a text sort once put entry 9 before entry 26).
    const listed = (await all('/admin/audit')).map((e) => Number(e.id));
    const [{ n }] = await stack.db.query(`SELECT count(*)::int AS n FROM audit_log`);
    expect(listed).toHaveLength(n);
    expect(listed).toEqual([...listed].sort((x, y) => y - x));
  });

  it('records the opening and the end of a portal session with the session as the actor', async () => {
    const link = await stack.admin('POST', `/admin/clinics/${a.id}/portal-sessions`, {});
    expect(link.status).toBe(201);
    const token = new URL(link.body.url).hash.replace('#portal=', '');
    const opened = await fetch(`${stack.adminUrl}${PORTAL_SESSION_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'portal-open' }, body: JSON.stringify({ token }) });
    expect(opened.status).toBe(200);
    const { csrf_token } = (await opened.json()) as { csrf_token: string };
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const closed = await fetch(`${stack.adminUrl}${PORTAL_SESSION_PATH}`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf_token, 'x-request-id': 'portal-close' } });
    expect(closed.status).toBe(204);
    const entries = (await all(`/admin/audit?clinic_id=${a.id}`)).filter((e) => e.request_id.startsWith('portal-'));
    expect(entries.map((e) => [e.request_id, e.method, e.actor.kind, e.status]).sort()).toEqual([
      ['portal-close', 'DELETE', 'portal_session', 204],
      ['portal-open', 'POST', 'portal_session', 200],
    ]);
    expect(JSON.stringify(entries)).not.toContain(token);
    expect(JSON.stringify(entries)).not.toContain(csrf_token);
  });

  it('refuses a bad filter or cursor with a 400, and another clinic with a 404', async () => {
    for (const q of ['cursor=abc', 'actor=robot', 'method=GET', 'since=yesterday', 'clinic_id=x', 'limit=0', 'unknown=1']) {
      expect(`${q} ${(await stack.admin('GET', `/admin/audit?${q}`)).status}`).toBe(`${q} 400`);
    }
    expect((await stack.admin('GET', `/api/external/audit?clinic_id=${b.id}`, undefined, asClinic(a))).status).toBe(404);
    expect((await stack.admin('GET', '/api/external/audit')).status).toBe(400); // an operator must name the clinic
  });
});
