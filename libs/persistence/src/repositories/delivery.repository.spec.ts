import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { testDatabase } from '../../../../test/support/database';
import { loadConfig } from '@switchyard/config';
import { KeyRing } from '@switchyard/secrets';
import { DeliveryRepository } from './delivery.repository';

/** Integration: real Postgres (DATABASE_URL or the loopback default), a schema of its own. */

describe('DeliveryRepository.recordAttempt', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let ds: DataSource;
  let repo: DeliveryRepository;
  const clinicId = randomUUID();
  const subscriberId = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    ds = db.ds;
    repo = new DeliveryRepository(ds, KeyRing.fromConfig(loadConfig({})));
    await ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
    await ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret) VALUES ($1, $2, 'http://127.0.0.1:1/', 'whsec_x')`, [subscriberId, clinicId]);
  });

  afterAll(() => db?.drop());

  async function newDelivery(): Promise<string> {
    const eventId = randomUUID();
    const id = randomUUID();
    await ds.query(`INSERT INTO events (id, clinic_id, event_name, payload, received_at) VALUES ($1, $2, 'x', '{}', now())`, [eventId, clinicId]);
    await ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, lease_until) VALUES ($1, $2, $3, $4, 'x', 'delivering', now())`,
      [id, eventId, clinicId, subscriberId],
    );
    return id;
  }

  const attempt = (deliveryId: string, n = 1) => ({
    deliveryId,
    attempt: n,
    outcome: 'success' as const,
    statusCode: 200,
    durationMs: 3,
    error: null,
    responseExcerpt: null,
    startedAt: new Date(),
  });

  it('writes attempts that arrive together, each moving its own delivery on', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, newDelivery));
    const retried = ids[0]!;
    await Promise.all(
      ids.map((id) =>
        id === retried
          ? repo.recordAttempt({ ...attempt(id), outcome: 'http_error', statusCode: 500, error: 'HTTP 500' }, { kind: 'retry', delayMs: 60_000 })
          : repo.recordAttempt(attempt(id), { kind: 'succeeded' }),
      ),
    );
    const rows: Array<{ id: string; status: string; attempt_count: number; due_in: number | null; attempts: number }> = await ds.query(
      `SELECT d.id, d.status, d.attempt_count, extract(epoch FROM d.next_attempt_at - now())::float AS due_in,
              (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts
         FROM deliveries d WHERE d.id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(30);
    for (const r of rows) {
      expect(r.attempts).toBe(1);
      expect(r.attempt_count).toBe(1);
      if (r.id === retried) {
        expect(r.status).toBe('pending');
        expect(r.due_in).toBeGreaterThan(50);
      } else {
        expect(r.status).toBe('succeeded');
        expect(r.due_in).toBeNull();
      }
    }
  });

  it('fails only the attempt whose delivery is gone when it shares a batch with others', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, newDelivery));
    const missing = randomUUID();
    const results = await Promise.allSettled([...ids, missing].map((id) => repo.recordAttempt(attempt(id), { kind: 'succeeded' })));
    expect(results.slice(0, 10).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(results[10]!.status).toBe('rejected');
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM deliveries WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [ids]);
    expect(n).toBe(10);
  });
});
