import type { AppConfig } from '@switchyard/config';
import { ClaimStore } from '@switchyard/dedupe';
import { createLogger } from '@switchyard/observability';
import { ClaimCleanupService } from '../../apps/dedupe/src/claims/claim-cleanup.service';
import { testDatabase } from '../support/database';

/**
 * The dedupe service's expiry sweep on the real Postgres. Claims expire at the rate they were made a
 * DEDUPE_TTL earlier: at a few hundred events per second or more, every delete finds some that expired
 * while the one before it ran, so a sweep that stops only when a delete finds nothing never stops.
 */
describe('ClaimCleanupService (real Postgres)', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let cleanup: ClaimCleanupService;

  beforeAll(async () => {
    db = await testDatabase(__filename);
    const store = new ClaimStore(db.ds, 24 * 3_600_000, 30_000);
    cleanup = new ClaimCleanupService(store, { DEDUPE_CLEANUP_INTERVAL: 60_000 } as AppConfig, createLogger('dedupe', 'silent'));
  });
  afterAll(() => db?.drop());

  /** `n` completed claims, expiring one after another over `spanMs` from `fromMs` on (negative: already expired). */
  const claimsExpiring = (n: number, fromMs: number, spanMs: number) =>
    db.ds.query(
      `INSERT INTO idempotency_claims (key, clinic_id, event_id, state, token, lease_until, expires_at)
       SELECT 'k-' || $4::text || '-' || g, 'clinic-1', gen_random_uuid(), 'done', 't', now(),
              now() + make_interval(secs => ($2::double precision + g * $3::double precision / $1) / 1000)
         FROM generate_series(1, $1) g`,
      [n, fromMs, spanMs, `${fromMs}-${Date.now()}`],
    );
  const left = async () => (await db.ds.query(`SELECT count(*)::int AS n FROM idempotency_claims`))[0].n as number;

  it('ends once it has caught up, while claims go on expiring (steady traffic a DEDUPE_TTL ago)', async () => {
    // 25,000 already expired (a backlog of more than one batch), and 40,000 expiring over the next 8 s: 5 per ms.
    await claimsExpiring(25_000, -60_000, 1_000);
    await claimsExpiring(40_000, 0, 8_000);
    const started = Date.now();
    const deleted = await cleanup.sweep();
    const took = Date.now() - started;
    // The backlog goes in full batches; what expires meanwhile waits for the next sweep.
    expect(deleted).toBeGreaterThanOrEqual(25_000);
    expect(took).toBeLessThan(4_000); // before: it ran until the last claim had expired and been deleted, 8 s on
    expect(await left()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, 8_500 - (Date.now() - started))));
    await cleanup.sweep();
    expect(await left()).toBe(0);
  });
});
