import { KNOWN_EVENT_NAMES, TEST_EVENT_NAME, validateNimbusEvent } from '@switchyard/contracts';
import { deliveriesOf, sendShipment, waitForDeliveries } from '../delivery/delivery-support';
import { LogCapture } from '../support/log-capture';
import { ReceiverPool, signedBy as verifies } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';


/** The clinic-scoped API behind the console, and portal sessions, over HTTP against the real stack. */
describe('console API: clinic-scoped routes and portal sessions', () => {
  const logs = new LogCapture();
  let stack: TestStack;
  let clinic: { id: string; apiKey: string };
  const receivers = new ReceiverPool();
  const receiver = () => receivers.next();
  /** Calls the admin app as the clinic (its key), as the operator, or with a cookie. */
  const asClinic = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    stack.admin(method, path, body, { authorization: '', 'x-api-key': clinic.apiKey, ...headers });

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { RETRY_SCHEDULE: '50ms,50ms', RETRY_JITTER: '0', LOG_LEVEL: 'debug' }, ['dedupe', 'ingress', 'fanout', 'admin'], { logs });
    clinic = await stack.createClinic('Console API clinic');
  });

  afterAll(async () => {
    await stack?.stop();
    await receivers.stop();
  });

  it('serves the event type catalog derived from the validation schemas, each example valid under its schema', async () => {
    const res = await asClinic('GET', '/api/external/event-types');
    expect(res.status).toBe(200);
    expect(res.body.items.map((t: any) => t.name)).toEqual([...KNOWN_EVENT_NAMES]);
    const medication = res.body.items.find((t: any) => t.name === 'medication:updated');
    expect(medication.description).toMatch(/status/);
    expect(medication.schema.properties.event_name).toEqual({ type: 'string', const: 'medication:updated' });
    expect(medication.schema.properties.event_data.required).toEqual(['medication_order_id', 'status']);
    expect(medication.schema.properties.event_data.properties.status.enum).toEqual(['validated', 'submitted', 'filled', 'shipped', 'delivered', 'cancelled']);
    for (const t of res.body.items) {
      expect(validateNimbusEvent(t.example)).toMatchObject({ ok: true, event: { eventName: t.name, known: true } });
      // every field the schema requires is in the example
      expect(Object.keys(t.example.event_data)).toEqual(expect.arrayContaining(t.schema.properties.event_data.required));
    }
  });

  it('sends a test event to one webhook only, signed, marked as a test in both formats, never fanned out', async () => {
    const ce = await receiver();
    const nimbus = await receiver();
    const other = await receiver();
    const ceHook = await stack.createSubscriber(clinic.id, ce.url);
    const nimbusHook = await stack.createSubscriber(clinic.id, nimbus.url, { format: 'nimbus' });
    await stack.createSubscriber(clinic.id, other.url);

    const sent = await asClinic('POST', `/api/external/webhook/${ceHook.id}/test`, { event_type: 'shipment:created' });
    expect(sent).toMatchObject({ status: 202, body: { event_name: TEST_EVENT_NAME, delivery_id: expect.any(String), event_id: expect.any(String) } });
    const sentNimbus = await asClinic('POST', `/api/external/webhook/${nimbusHook.id}/test`, {});
    expect(sentNimbus.status).toBe(202);
    await ce.waitFor(1);
    await nimbus.waitFor(1);

    const cloudEvent = JSON.parse(ce.requests[0]!.body);
    expect(cloudEvent).toMatchObject({ specversion: '1.0', id: sent.body.event_id, type: 'com.nimbus-os.switchyard.test', clinicid: clinic.id, data: { test: true, webhook_id: ceHook.id, example_of: 'shipment:created' } });
    expect(cloudEvent.data.example.shipment_id).toBe('550e8400-e29b-41d4-a716-446655440000');
    expect(ce.requests[0]!.headers['content-type']).toBe('application/cloudevents+json');
    expect(ce.requests[0]!.headers['webhook-id']).toBe(sent.body.event_id);
    expect(verifies(ceHook.secret, ce.requests[0]!)).toBe(true);
    expect(JSON.parse(nimbus.requests[0]!.body)).toMatchObject({ event_name: 'switchyard:test', event_data: { test: true, webhook_id: nimbusHook.id } });
    expect(verifies(nimbusHook.secret, nimbus.requests[0]!)).toBe(true);

    const [delivered] = await waitForDeliveries(stack, ceHook.id, 'succeeded');
    expect(delivered).toMatchObject({ id: sent.body.delivery_id, event_name: TEST_EVENT_NAME });
    await new Promise((r) => setTimeout(r, 400)); // several scheduler polls (100 ms)
    expect(other.requests).toHaveLength(0);
    const [{ n }] = await stack.db.query(`SELECT count(*)::int AS n FROM deliveries WHERE event_id = ANY($1::uuid[])`, [[sent.body.event_id, sentNimbus.body.event_id]]);
    expect(n).toBe(2);
  });

  it('refuses a test event to a disabled webhook (409) and an unknown event_type (400), queuing nothing', async () => {
    const r = await receiver();
    const hook = await stack.createSubscriber(clinic.id, r.url);
    expect((await asClinic('POST', `/api/external/webhook/${hook.id}/test`, { event_type: 'lab:ordered' })).status).toBe(400);
    expect((await asClinic('PATCH', `/api/external/webhook/${hook.id}`, { enabled: false })).status).toBe(200);
    const res = await asClinic('POST', `/api/external/webhook/${hook.id}/test`, {});
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'webhook_disabled' } } });
    expect(await deliveriesOf(stack, hook.id)).toEqual([]);
  });

  it('lists deliveries with filters and cursor pages, one delivery with its attempts, and resends it with the same webhook-id', async () => {
    const c = await stack.createClinic('Filter clinic');
    const r = await receiver();
    const hook = await stack.createSubscriber(c.id, r.url);
    const key = { authorization: '', 'x-api-key': c.apiKey };
    const start = new Date().toISOString();
    for (let i = 0; i < 5; i++) await sendShipment(stack, c.apiKey, `page-${i}`);
    await stack.admin('POST', `/api/external/webhook/${hook.id}/test`, {}, key);
    await waitForDeliveries(stack, hook.id, 'succeeded', 6);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await stack.admin('GET', `/api/external/deliveries?event_type=shipment:created&limit=2${cursor ? `&cursor=${cursor}` : ''}`, undefined, key);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((d: any) => d.id));
      expect(page.body.items.every((d: any) => d.event_name === 'shipment:created' && d.clinic_id === c.id)).toBe(true);
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(5);
    const tests = await stack.admin('GET', `/api/external/deliveries?event_type=${TEST_EVENT_NAME}&webhook_id=${hook.id}&status=succeeded`, undefined, key);
    expect(tests.body.items).toHaveLength(1);
    expect((await stack.admin('GET', `/api/external/deliveries?until=${start}`, undefined, key)).body.items).toEqual([]);
    expect((await stack.admin('GET', `/api/external/deliveries?since=${start}&status=dead`, undefined, key)).body.items).toEqual([]);
    expect((await stack.admin('GET', `/api/external/deliveries?since=tomorrow`, undefined, key)).status).toBe(400);
    expect((await stack.admin('GET', `/api/external/deliveries?cursor=bogus`, undefined, key)).status).toBe(400);
    expect((await stack.admin('GET', `/api/external/deliveries?since=${new Date().toISOString()}&until=${start}`, undefined, key)).status).toBe(400);

    const id = seen[0]!;
    const one = await stack.admin('GET', `/api/external/deliveries/${id}`, undefined, key);
    expect(one.body).toMatchObject({ id, status: 'succeeded', attempts: [{ attempt: 1, outcome: 'success', status_code: 200, response_excerpt: '{"ok":true}', duration_ms: expect.any(Number), started_at: expect.any(String) }] });

    const before = r.requests.length;
    const resent = await stack.admin('POST', `/api/external/deliveries/${id}/resend`, undefined, key);
    expect(resent).toMatchObject({ status: 202, body: { delivery_id: id, status: 'pending' } });
    await r.waitFor(before + 1);
    const again = await eventually(async () => {
      const d = (await stack.admin('GET', `/api/external/deliveries/${id}`, undefined, key)).body;
      return d.status === 'succeeded' && d.attempts.length === 2 ? d : null;
    }, 10_000, 'the resent delivery');
    expect(again.attempts.map((a: any) => a.outcome)).toEqual(['success', 'success']);
    const webhookIds = r.requests.filter((q) => q.headers['webhook-id'] === r.requests[before]!.headers['webhook-id']);
    expect(webhookIds).toHaveLength(2);
  });

  it('refuses to resend a delivery that is still waiting (409) and anything of another clinic (404)', async () => {
    const c = await stack.createClinic('Waiting clinic');
    const r = await receiver();
    r.respond = () => 'hang';
    const hook = await stack.createSubscriber(c.id, r.url);
    await sendShipment(stack, c.apiKey, 'hanging');
    const [d] = await eventually(async () => {
      const items = await deliveriesOf(stack, hook.id);
      return items.length === 1 ? items : null;
    });
    const res = await stack.admin('POST', `/api/external/deliveries/${d.id}/resend`, undefined, { authorization: '', 'x-api-key': c.apiKey });
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'not_finished' } } });
    expect((await asClinic('POST', `/api/external/deliveries/${d.id}/resend`)).status).toBe(404);
    expect((await asClinic('GET', `/api/external/deliveries/${d.id}`)).status).toBe(404);
  });

  it('replays a webhook\'s dead letters of a time range after a dry run that counts them and changes nothing', async () => {
    const c = await stack.createClinic('Replay clinic');
    const key = { authorization: '', 'x-api-key': c.apiKey };
    const r = await receiver();
    r.respond = () => ({ status: 500, body: 'down' });
    const hook = await stack.createSubscriber(c.id, r.url);
    const since = new Date().toISOString();
    await sendShipment(stack, c.apiKey, 'dead-1');
    await sendShipment(stack, c.apiKey, 'dead-2');
    await waitForDeliveries(stack, hook.id, 'dead', 2);
    expect(r.requests).toHaveLength(6); // 3 attempts each

    const dry = await stack.admin('POST', `/api/external/webhook/${hook.id}/replay`, { since, dry_run: true }, key);
    expect(dry).toMatchObject({ status: 200, body: { dry_run: true, count: 2 } });
    expect((await stack.admin('POST', `/api/external/webhook/${hook.id}/replay`, { until: since, dry_run: true }, key)).body.count).toBe(0);
    expect((await deliveriesOf(stack, hook.id)).map((d) => d.status)).toEqual(['dead', 'dead']);
    expect((await stack.admin('POST', `/api/external/webhook/${hook.id}/replay`, { since: 'yesterday' }, key)).status).toBe(400);

    const health = await stack.admin('GET', `/api/external/webhook-health?webhook_id=${hook.id}`, undefined, key);
    expect(health.body.items).toEqual([
      expect.objectContaining({ webhook_id: hook.id, attempts_24h: 6, successes_24h: 0, success_rate_24h: 0, dead: 2, waiting: 0, parked: 0, last_attempt: expect.objectContaining({ outcome: 'http_error', status_code: 500 }) }),
    ]);

    r.respond = () => ({ status: 200 });
    const replay = await stack.admin('POST', `/api/external/webhook/${hook.id}/replay`, { since, until: new Date().toISOString() }, key);
    expect(replay).toMatchObject({ status: 200, body: { dry_run: false, count: 2 } });
    await waitForDeliveries(stack, hook.id, 'succeeded', 2);
    const after = (await stack.admin('GET', `/api/external/webhook-health`, undefined, key)).body.items[0];
    expect(after).toMatchObject({ attempts_24h: 8, successes_24h: 2, success_rate_24h: 0.25, dead: 0, last_attempt: expect.objectContaining({ outcome: 'success' }) });

    const stats = await stack.admin('GET', '/api/external/delivery-stats?hours=2&bucket_minutes=30', undefined, key);
    expect(stats.status).toBe(200);
    expect(stats.body.buckets).toHaveLength(4);
    expect(stats.body.buckets.reduce((n: number, b: any) => n + b.succeeded, 0)).toBe(2);
    expect(stats.body.buckets[3]).toMatchObject({ succeeded: 2, dead: 0, waiting: 0, parked: 0, cancelled: 0 });
    expect((await stack.admin('GET', '/api/external/delivery-stats?hours=168&bucket_minutes=1', undefined, key)).status).toBe(400);
  });

  it('refuses a time whose UTC offset is out of range (400 naming the field): delivery log, replays, audit trails', async () => {
    const r = await receiver();
    const hook = await stack.createSubscriber(clinic.id, r.url);
    // well-formed to the eye (zod's date-time pattern takes any two-digit offset), but no instant
    for (const bad of ['2026-01-01T00:00:00+99:99', '2026-01-01T00:00:00-24:30']) {
      for (const field of ['since', 'until']) {
        const list = await asClinic('GET', `/api/external/deliveries?${field}=${encodeURIComponent(bad)}`);
        expect(list).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringContaining(field) } } });
        const replay = await asClinic('POST', `/api/external/webhook/${hook.id}/replay`, { [field]: bad, dry_run: true });
        expect(replay).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringContaining(field) } } });
      }
    }
    // the same in the clinic's audit trail, and in the operator's audit and dead-letter replay (the console's Dead letters)
    const bad = encodeURIComponent('2026-01-01T00:00:00+99:99');
    expect(await asClinic('GET', `/api/external/audit?since=${bad}`)).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringContaining('since') } } });
    expect(await stack.admin('GET', `/admin/audit?until=${bad}`)).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringContaining('until') } } });
    const replayAll = await stack.admin('POST', '/admin/dead-letters/replay', { clinic_id: clinic.id, since: '2026-01-01T00:00:00+99:99' });
    expect(replayAll).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringContaining('since') } } });
    // a real offset still works
    for (const path of ['/api/external/deliveries', '/api/external/audit']) {
      expect((await asClinic('GET', `${path}?since=${encodeURIComponent('2026-01-01T00:00:00+05:30')}`)).status).toBe(200);
    }
  });

  it('reveals the current signing secret, and during a rotation until when the previous one signs', async () => {
    const r = await receiver();
    const hook = await stack.createSubscriber(clinic.id, r.url);
    expect((await asClinic('GET', `/api/external/webhook/${hook.id}/secret`)).body).toEqual({ webhook_id: hook.id, secret: hook.secret, previous_secret_expires_at: null });
    const rotated = await asClinic('POST', `/api/external/webhook/${hook.id}/rotate-secret`, { overlap_seconds: 600 });
    const shown = (await asClinic('GET', `/api/external/webhook/${hook.id}/secret`)).body;
    expect(shown.secret).toBe(rotated.body.data.secret);
    expect(Date.parse(shown.previous_secret_expires_at) - Date.now()).toBeGreaterThan(500_000);
  });

  describe('portal sessions', () => {
    const cookieOf = (res: { headers: Headers }) => (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const tokenOf = (url: string) => new URL(url).hash.replace('#portal=', '');

    async function openLink(clinicId: string, ttl = 600) {
      const issued = await stack.admin('POST', `/admin/clinics/${clinicId}/portal-sessions`, { ttl_seconds: ttl });
      expect(issued.status).toBe(201);
      const exchanged = await fetch(`${stack.adminUrl}/api/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokenOf(issued.body.url) }) });
      return { issued: issued.body, exchanged, body: (await exchanged.json()) as any };
    }

    it('issues a link whose token sits in the fragment, swaps it once for an HttpOnly SameSite=Strict cookie, and never logs either', async () => {
      const issued = await stack.admin('POST', `/admin/clinics/${clinic.id}/portal-sessions`, {}, { 'x-forwarded-host': 'console.example.test:8081' });
      expect(issued.status).toBe(201);
      expect(issued.body.url).toMatch(/^http:\/\/console\.example\.test:8081\/console#portal=swp_[A-Za-z0-9_-]{43}$/);
      expect(Date.parse(issued.body.expires_at) - Date.now()).toBeGreaterThan(3_500_000);
      expect(issued.body).toMatchObject({ clinic_id: clinic.id, exchanged_at: null, revoked_at: null });
      const token = tokenOf(issued.body.url);
      const [{ link_hash }] = await stack.db.query(`SELECT link_hash FROM portal_sessions WHERE id = $1`, [issued.body.id]);
      expect(link_hash).not.toContain(token.slice(4));

      const exchange = () => fetch(`${stack.adminUrl}/api/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
      const first = await exchange();
      expect(first.status).toBe(200);
      const setCookie = first.headers.get('set-cookie')!;
      expect(setCookie).toMatch(/^switchyard_portal=sws_[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
      const info = (await first.json()) as any;
      expect(info).toEqual({ clinic: { id: clinic.id, name: 'Console API clinic' }, expires_at: issued.body.expires_at, csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      const second = await exchange();
      expect(second.status).toBe(401);
      expect(((await second.json()) as any).error.code).toBe('invalid_portal_link');

      const cookie = setCookie.split(';')[0]!;
      const session = await stack.admin('GET', '/api/portal/session', undefined, { authorization: '', cookie });
      expect(session.body).toEqual(info);
      const listed = await stack.admin('GET', `/admin/clinics/${clinic.id}/portal-sessions`);
      expect(listed.body.items[0]).toMatchObject({ id: issued.body.id, exchanged_at: expect.any(String), revoked_at: null });
      expect(JSON.stringify(listed.body)).not.toContain(token);

      const sessionToken = cookie.split('=')[1]!;
      expect(logs.lines.length).toBeGreaterThan(0);
      expect(logs.linesContaining([token, sessionToken, info.csrf_token])).toEqual([]);
    });

    it('gives the cookie the clinic\'s own routes only, and a write only with its X-CSRF-Token', async () => {
      const { exchanged, body } = await openLink(clinic.id);
      const cookie = cookieOf(exchanged);
      const r = await receiver();
      const list = await stack.admin('GET', '/api/external/webhook', undefined, { authorization: '', cookie });
      expect(list.status).toBe(200);
      expect(list.body.data.every((w: any) => w.clinic_id === clinic.id)).toBe(true);
      expect((await stack.admin('GET', '/admin/clinics', undefined, { authorization: '', cookie })).status).toBe(401);
      expect((await stack.admin('GET', '/admin/dead-letters', undefined, { authorization: '', cookie })).status).toBe(401);

      const count = list.body.data.length;
      const create = { clinic_id: clinic.id, webhook_url: r.url };
      const refused = await stack.admin('POST', '/api/external/webhook', create, { authorization: '', cookie });
      expect(refused).toMatchObject({ status: 403, body: { error: { code: 'csrf_failed' } } });
      expect((await stack.admin('POST', '/api/external/webhook', create, { authorization: '', cookie, 'x-csrf-token': 'A'.repeat(43) })).status).toBe(403);
      expect((await stack.admin('GET', '/api/external/webhook', undefined, { authorization: '', cookie })).body.data).toHaveLength(count);
      const created = await stack.admin('POST', '/api/external/webhook', create, { authorization: '', cookie, 'x-csrf-token': body.csrf_token });
      expect(created.status).toBe(201);
      // a cookie with no live session behind it is no credential
      expect((await stack.admin('GET', '/api/external/webhook', undefined, { authorization: '', cookie: 'switchyard_portal=sws_' + 'x'.repeat(43) })).status).toBe(401);
    });

    it('ends a session when the operator revokes it, when it expires, when its clinic is disabled (for good: enabling it again revives neither sessions nor links), and on sign-out', async () => {
      const probe = (cookie: string) => stack.admin('GET', '/api/external/event-types', undefined, { authorization: '', cookie }).then((r) => r.status);

      const revoked = await openLink(clinic.id);
      expect(await probe(cookieOf(revoked.exchanged))).toBe(200);
      expect((await stack.admin('DELETE', `/admin/clinics/${clinic.id}/portal-sessions/${revoked.issued.id}`)).status).toBe(204);
      expect(await probe(cookieOf(revoked.exchanged))).toBe(401);
      expect((await stack.admin('DELETE', `/admin/clinics/${clinic.id}/portal-sessions/${revoked.issued.id}`)).status).toBe(404);

      const expiring = await openLink(clinic.id);
      await stack.db.query(`UPDATE portal_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.issued.id]);
      expect(await probe(cookieOf(expiring.exchanged))).toBe(401);

      const unopened = await stack.admin('POST', `/admin/clinics/${clinic.id}/portal-sessions`, { ttl_seconds: 60 });
      await stack.db.query(`UPDATE portal_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [unopened.body.id]);
      const late = await fetch(`${stack.adminUrl}/api/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokenOf(unopened.body.url) }) });
      expect(late.status).toBe(401);

      const c = await stack.createClinic('Disabled later');
      const disabled = await openLink(c.id);
      const unused = await stack.admin('POST', `/admin/clinics/${c.id}/portal-sessions`, { ttl_seconds: 600 });
      expect(await probe(cookieOf(disabled.exchanged))).toBe(200);
      expect((await stack.admin('PATCH', `/admin/clinics/${c.id}`, { enabled: false })).status).toBe(200);
      expect(await probe(cookieOf(disabled.exchanged))).toBe(401);
      // Enabled again (the reason to disable it dealt with): what it had issued before stays ended; a new link works.
      expect((await stack.admin('PATCH', `/admin/clinics/${c.id}`, { enabled: true })).status).toBe(200);
      expect(await probe(cookieOf(disabled.exchanged))).toBe(401);
      const reopened = await fetch(`${stack.adminUrl}/api/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokenOf(unused.body.url) }) });
      expect(reopened.status).toBe(401);
      expect((await stack.admin('GET', `/admin/clinics/${c.id}/portal-sessions`)).body.items.every((p: { revoked_at: string | null }) => p.revoked_at !== null)).toBe(true);
      expect(await probe(cookieOf((await openLink(c.id)).exchanged))).toBe(200);

      const out = await openLink(clinic.id);
      const cookie = cookieOf(out.exchanged);
      expect((await stack.admin('DELETE', '/api/portal/session', undefined, { authorization: '', cookie })).status).toBe(403);
      const signOut = await stack.admin('DELETE', '/api/portal/session', undefined, { authorization: '', cookie, 'x-csrf-token': out.body.csrf_token });
      expect(signOut.status).toBe(204);
      expect(signOut.headers.get('set-cookie')).toMatch(/^switchyard_portal=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
      expect(await probe(cookie)).toBe(401);
    });

    it('refuses bad input with clear 4xx: unknown clinic, bad ttl, malformed token, non-JSON body', async () => {
      expect((await stack.admin('POST', '/admin/clinics/00000000-0000-4000-8000-000000000000/portal-sessions', {})).status).toBe(404);
      const badTtl = await stack.admin('POST', `/admin/clinics/${clinic.id}/portal-sessions`, { ttl_seconds: 10 * 86_400 });
      expect(badTtl).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringMatching(/ttl_seconds/) } } });
      for (const token of ['', 'swp_short', 'sws_' + 'a'.repeat(43), 42]) {
        const res = await fetch(`${stack.adminUrl}/api/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
        expect([400, 401]).toContain(res.status);
      }
      // what a cross-site form could send (no preflight): never a session
      const valid = tokenOf((await stack.admin('POST', `/admin/clinics/${clinic.id}/portal-sessions`, {})).body.url);
      const form = await fetch(`${stack.adminUrl}/api/portal/session`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ token: valid }) });
      expect(form.status).toBe(400);
      expect(form.headers.get('set-cookie')).toBeNull();
      expect((await stack.admin('GET', '/api/portal/session', undefined, { authorization: '' })).status).toBe(401);
    });
  });

  it('serves the console page with a Content-Security-Policy without unsafe-inline and no-store', async () => {
    for (const path of ['/console', '/console/app.js', '/console/app.css']) {
      const res = await fetch(`${stack.adminUrl}${path}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-store');
      await res.arrayBuffer();
    }
  });
});
