import { TestStack } from '../support/stack';

/**
 * The time bounds of the replay, delivery-log and audit routes (`since`, `until`). An ISO-8601 date-time that
 * zod's datetime check takes but that names no instant — an offset beyond ±23:59, e.g. `+99:99` — reached
 * Postgres as an Invalid Date ("0NaN-NaN-…") or a string it refuses, and the caller got a 500.
 */
describe('time range input: an offset out of range is a 400 naming the field, never a 500', () => {
  let stack: TestStack;
  let clinic: { id: string; apiKey: string };
  let webhook: string;
  const BAD = ['2026-01-01T00:00:00+99:99', '2026-01-01T00:00:00-24:00', '2026-01-01T00:00:00.000+12:60'];

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['admin']);
    clinic = await stack.createClinic('Time range clinic');
    webhook = (await stack.createSubscriber(clinic.id, 'http://127.0.0.1:9/hook')).id;
  });
  afterAll(() => stack?.stop());

  const routes: Array<[string, (bad: string, field: 'since' | 'until') => Promise<{ status: number; body: any }>]> = [
    ['POST /admin/dead-letters/replay', (bad, field) => stack.admin('POST', '/admin/dead-letters/replay', { clinic_id: clinic.id, [field]: bad })],
    ['POST /api/external/webhook/:id/replay', (bad, field) => stack.admin('POST', `/api/external/webhook/${webhook}/replay`, { [field]: bad, dry_run: true })],
    ['GET /api/external/deliveries', (bad, field) => stack.admin('GET', `/api/external/deliveries?clinic_id=${clinic.id}&${field}=${encodeURIComponent(bad)}`)],
    ['GET /admin/audit', (bad, field) => stack.admin('GET', `/admin/audit?${field}=${encodeURIComponent(bad)}`)],
  ];

  it.each(routes)('%s', async (_route, call) => {
    for (const field of ['since', 'until'] as const) {
      for (const bad of BAD) {
        const res = await call(bad, field);
        expect({ bad, field, status: res.status, code: res.body?.error?.code }).toEqual({ bad, field, status: 400, code: 'validation_failed' });
        expect(res.body.error.message).toContain(field);
      }
      // The same instant with a real offset is taken.
      expect((await call('2026-01-01T00:00:00+05:30', field)).status).toBe(200);
    }
  });
});
