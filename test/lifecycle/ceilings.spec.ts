import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestStack } from '../support/stack';

let seq = 0;
const event = () => {
  const body = clone(nimbusFixtures['shipment:created']);
  body.event_data.shipment_id = `ceiling-${++seq}`;
  return body;
};
const url = (name: string) => `http://127.0.0.1:9/${name}`; // never called: no fan-out in this stack

/**
 * Per-clinic ceilings: defaults from the config, an operator's override per clinic; the admin API refuses
 * what is above them (422), lowering one brings the clinic's subscribers down with it, and ingress applies
 * each clinic's own rate.
 */
describe('per-clinic ceilings: subscribers, max_in_flight, timeout, ingress rate', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start(
      __filename,
      { CLINIC_MAX_SUBSCRIBERS: '3', CLINIC_MAX_IN_FLIGHT: '20', CLINIC_MAX_TIMEOUT: '12s', AUTH_CACHE_TTL: '200ms' },
      ['dedupe', 'ingress', 'admin'],
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const limits = (clinicId: string) => stack.admin('GET', `/admin/clinics/${clinicId}/limits`);
  const setLimits = (clinicId: string, body: unknown) => stack.admin('PATCH', `/admin/clinics/${clinicId}/limits`, body);

  it('shows the configured defaults, and an override once an operator sets one (null puts the default back)', async () => {
    const c = await stack.createClinic('Defaults');
    expect((await limits(c.id)).body).toEqual({
      clinic_id: c.id,
      limits: { max_subscribers: 3, max_in_flight: 20, max_timeout_ms: 12_000, ingress_rate_per_second: 0, ingress_burst: 1 },
      overrides: { max_subscribers: null, max_in_flight: null, max_timeout_ms: null, ingress_rate_per_second: null, ingress_burst: null },
    });
    const set = await setLimits(c.id, { max_subscribers: 10, ingress_rate_per_second: 4 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual(expect.objectContaining({ limits: expect.objectContaining({ max_subscribers: 10, max_in_flight: 20, ingress_rate_per_second: 4, ingress_burst: 4 }), clamped_subscribers: 0 }));
    expect((await setLimits(c.id, { max_subscribers: null })).body.limits.max_subscribers).toBe(3);
    expect((await limits(c.id)).body.overrides).toEqual(expect.objectContaining({ max_subscribers: null, ingress_rate_per_second: 4 }));
  });

  it('refuses a bad override with a clear 400, and an unknown clinic with 404', async () => {
    const c = await stack.createClinic('Bad overrides');
    const bad = await setLimits(c.id, { max_timeout_ms: 31_000 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/max_timeout_ms: must be at most 30000 .*half of DELIVERY_LEASE/);
    expect((await setLimits(c.id, { max_in_flight: 0 })).status).toBe(400);
    expect((await setLimits(c.id, { unknown: 1 })).status).toBe(400);
    expect((await setLimits('00000000-0000-4000-8000-000000000000', { max_in_flight: 5 })).status).toBe(404);
    expect((await limits('00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('refuses subscriber values above the ceilings with a 422 naming the field and the ceiling, on create and update', async () => {
    const c = await stack.createClinic('Greedy');
    const above = await stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url('a'), max_in_flight: 1000, timeout_ms: 30_000 });
    expect(above.status).toBe(422);
    expect(above.body.error).toEqual({
      code: 'clinic_limit_exceeded',
      message: "max_in_flight: 1000 is above this clinic's ceiling of 20; timeout_ms: 30000 is above this clinic's ceiling of 12000 (an operator can raise it)",
      details: expect.any(Array),
    });
    const at = await stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url('a'), max_in_flight: 20, timeout_ms: 12_000 }, { authorization: '', 'x-api-key': c.apiKey });
    expect(at.status).toBe(201);
    const patched = await stack.admin('PATCH', `/api/external/webhook/${at.body.data.webhook_id}`, { max_in_flight: 21 }, { authorization: '', 'x-api-key': c.apiKey });
    expect(patched.status).toBe(422);
    expect(patched.body.error.message).toMatch(/max_in_flight: 21 is above this clinic's ceiling of 20/);
    // an operator raises the ceiling for this clinic only
    await setLimits(c.id, { max_in_flight: 100 });
    expect((await stack.admin('PATCH', `/api/external/webhook/${at.body.data.webhook_id}`, { max_in_flight: 100 })).status).toBe(200);
    const other = await stack.createClinic('Other');
    expect((await stack.admin('POST', '/api/external/webhook', { clinic_id: other.id, webhook_url: url('x'), max_in_flight: 100 })).status).toBe(422);
  });

  it('refuses a subscriber beyond the clinic’s count (deleted ones do not count), and the same URL twice (409)', async () => {
    const c = await stack.createClinic('Many');
    const create = (name: string) => stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url(name) });
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) ids.push((await create(name)).body.data.webhook_id);
    const fourth = await create('four');
    expect(fourth.status).toBe(422);
    expect(fourth.body.error.message).toMatch(/already has 3 webhooks, its ceiling/);
    const again = await create('one');
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({ code: 'webhook_exists', message: expect.stringContaining(ids[0]!), details: { webhook_id: ids[0] } });
    expect((await stack.admin('PATCH', `/api/external/webhook/${ids[1]}`, { webhook_url: url('one') })).status).toBe(409);
    expect((await stack.admin('DELETE', `/api/external/webhook/${ids[0]}`)).status).toBe(200);
    expect((await create('one')).status).toBe(201); // the deleted one's URL is free again, and it no longer counts
    expect((await stack.admin('GET', `/api/external/webhook?clinic_id=${c.id}`)).body.data).toHaveLength(3);
  });

  it('refuses concurrent creates beyond the ceiling: the count is checked under a lock', async () => {
    const c = await stack.createClinic('Racing');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url(`race-${i}`) })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 201, 422, 422, 422, 422, 422]);
  });

  it('brings existing subscribers down when an operator lowers a ceiling, unset ones too when the default is above it', async () => {
    const c = await stack.createClinic('Lowered');
    const high = (await stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url('high'), max_in_flight: 20, timeout_ms: 12_000 })).body.data.webhook_id;
    const unset = (await stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url('unset') })).body.data.webhook_id;
    const low = (await stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url('low'), max_in_flight: 2, timeout_ms: 500 })).body.data.webhook_id;
    const lowered = await setLimits(c.id, { max_in_flight: 4, max_timeout_ms: 1_000, max_subscribers: 4 });
    expect(lowered.body.clamped_subscribers).toBe(2);
    const view = async (id: string) => {
      const d = (await stack.admin('GET', `/api/external/webhook/${id}`)).body.data;
      return [d.max_in_flight, d.timeout_ms];
    };
    expect(await view(high)).toEqual([4, 1_000]);
    // DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER (10) and DELIVERY_TIMEOUT (10 s) are above the new ceilings
    expect(await view(unset)).toEqual([4, 1_000]);
    expect(await view(low)).toEqual([2, 500]);
    // and a new one that sets nothing is stored at the ceilings
    const fresh = await stack.admin('POST', '/api/external/webhook', { clinic_id: c.id, webhook_url: url('fresh') });
    expect(fresh.status).toBe(201);
    expect(await view(fresh.body.data.webhook_id)).toEqual([4, 1_000]);
  });

  it("applies each clinic's own ingress rate: an override limits one clinic, the others keep the default (off here)", async () => {
    const limited = await stack.createClinic('Rate limited');
    const free = await stack.createClinic('Unlimited');
    await setLimits(limited.id, { ingress_rate_per_second: 2, ingress_burst: 3 });
    await new Promise((r) => setTimeout(r, 300)); // AUTH_CACHE_TTL: ingress reads the clinic's rate again
    const burst = async (apiKey: string, n: number) => (await Promise.all(Array.from({ length: n }, () => stack.send(apiKey, event())))).map((r) => r.status);
    const started = Date.now();
    const limitedStatuses = await burst(limited.apiKey, 10);
    const seconds = (Date.now() - started) / 1000;
    const freeStatuses = await burst(free.apiKey, 10);
    const accepted = limitedStatuses.filter((s) => s === 200).length;
    expect(accepted).toBeGreaterThanOrEqual(3); // the burst
    expect(accepted).toBeLessThanOrEqual(3 + Math.ceil(2 * seconds)); // plus what refilled meanwhile
    expect(accepted + limitedStatuses.filter((s) => s === 429).length).toBe(10);
    expect(freeStatuses).toEqual(Array(10).fill(200));
    // the override removed (null = the default, off): the clinic is no longer limited
    await setLimits(limited.id, { ingress_rate_per_second: null, ingress_burst: null });
    await new Promise((r) => setTimeout(r, 300));
    expect(await burst(limited.apiKey, 10)).toEqual(Array(10).fill(200));
  });
});
