import { randomUUID } from 'node:crypto';
import { DeliveryQueryRepository } from '@switchyard/persistence';
import { testDatabase } from '../support/database';
import { plannedCall, rowsRead } from '../support/query-plan';

const MINUTE = 60;

/**
 * The Webhooks page of the console and `GET /api/external/webhook-health` on a webhook with a month of
 * deliveries behind it, as a busy one has: its health (the last 24 h, the latest attempt, what waits) must be
 * read from the last day's deliveries and those waiting, not from every delivery the webhook ever had. Before,
 * both the 24 h counts and the latest attempt walked all of them (deliveries_subscriber_idx holds no time).
 */
describe('webhook health reads the last day, not the whole history', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  const clinic = randomUUID();
  const busy = randomUUID();
  const quiet = randomUUID();
  /** The delivery whose attempt is the latest: a retry that failed 2 minutes ago. */
  const latest = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    await db.ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'health')`, [clinic]);
    await db.ds.query(
      `INSERT INTO subscribers (id, clinic_id, url, secret, created_at) VALUES ($1, $3, 'https://busy.example/h', 's', now() - interval '40 days'),
                                                                            ($2, $3, 'https://quiet.example/h', 's', now() - interval '39 days')`,
      [busy, quiet, clinic],
    );
    // 40,000 deliveries, one a minute for the last ~28 days, each delivered at its first attempt.
    await db.ds.query(
      `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, attempt_count, delivered_at, created_at, updated_at)
       SELECT gen_random_uuid(), gen_random_uuid(), $1, $2, 'shipment:created', 'succeeded', 1, t, t, t
         FROM (SELECT now() - make_interval(secs => g * ${MINUTE} + 300) AS t FROM generate_series(0, 39999) g) AS at`,
      [clinic, busy],
    );
    await db.ds.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, duration_ms, started_at)
       SELECT id, 1, 'success', 200, 5, updated_at FROM deliveries WHERE subscriber_id = $1`,
      [busy],
    );
    // What waits: 3 queued (never attempted), 2 parked, 4 dead letters from 10 days ago, and a retry that failed just now.
    const more = `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, attempt_count, next_attempt_at, dead_at, created_at, updated_at)
                  VALUES ($1, gen_random_uuid(), $2, $3, 'shipment:created', $4, $5, $6::timestamptz, $7::timestamptz, $8::timestamptz, $8::timestamptz)`;
    for (let i = 0; i < 3; i++) await db.ds.query(more, [randomUUID(), clinic, busy, 'pending', 0, new Date(), null, new Date()]);
    for (let i = 0; i < 2; i++) await db.ds.query(more, [randomUUID(), clinic, busy, 'parked', 0, null, null, new Date()]);
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    for (let i = 0; i < 4; i++) {
      const id = randomUUID();
      await db.ds.query(more, [id, clinic, busy, 'dead', 5, null, tenDaysAgo, tenDaysAgo]);
      await db.ds.query(`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, duration_ms, started_at) VALUES ($1, 5, 'http_error', 500, 5, $2)`, [id, tenDaysAgo]);
    }
    const twoMinutesAgo = new Date(Date.now() - 2 * 60_000);
    await db.ds.query(more, [latest, clinic, busy, 'pending', 2, new Date(Date.now() + 60_000), null, twoMinutesAgo]);
    await db.ds.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, duration_ms, started_at)
       VALUES ($1, 1, 'timeout', NULL, 10000, $2::timestamptz - interval '1 minute'), ($1, 2, 'http_error', 503, 7, $2)`,
      [latest, twoMinutesAgo],
    );
    await db.ds.query(`ANALYZE deliveries`);
    await db.ds.query(`ANALYZE delivery_attempts`);
  });
  afterAll(() => db?.drop());

  it('answers the 24 h counts, the latest attempt and what waits, reading about a day of rows', async () => {
    const { answer, plan } = await plannedCall(db.ds, (ds) => new DeliveryQueryRepository(ds).webhookHealth(clinic));
    const lastDay = 24 * 60 - 5; // one a minute, the newest 5 minutes old
    expect(answer).toEqual([
      {
        webhook_id: busy,
        attempts_24h: lastDay + 2,
        successes_24h: lastDay,
        success_rate_24h: lastDay / (lastDay + 2),
        last_attempt: { at: expect.any(String), outcome: 'http_error', status_code: 503 },
        waiting: 4,
        parked: 2,
        dead: 4,
      },
      { webhook_id: quiet, attempts_24h: 0, successes_24h: 0, success_rate_24h: null, last_attempt: null, waiting: 0, parked: 0, dead: 0 },
    ]);
    // Before: every delivery of the webhook, twice (80,000 and more).
    expect(rowsRead(plan)).toBeLessThan(8_000);
  });

  it('answers one webhook the same way', async () => {
    const { answer, plan } = await plannedCall(db.ds, (ds) => new DeliveryQueryRepository(ds).webhookHealth(clinic, busy));
    expect(answer.map((h) => [h.webhook_id, h.attempts_24h, h.last_attempt?.status_code])).toEqual([[busy, 24 * 60 - 5 + 2, 503]]);
    expect(rowsRead(plan)).toBeLessThan(8_000);
  });
});
