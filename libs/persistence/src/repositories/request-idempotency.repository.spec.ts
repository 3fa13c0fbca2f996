import { testDatabase } from '../../../../test/support/database';
import { loadConfig } from '@switchyard/config';
import { KeyRing } from '@switchyard/secrets';
import { RequestIdempotencyRepository } from './request-idempotency.repository';
import { RetentionRepository } from './retention.repository';

/** Integration: real Postgres, a schema of its own. */
describe('RequestIdempotencyRepository: a claim whose request still runs', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let repo: RequestIdempotencyRepository;

  beforeAll(async () => {
    db = await testDatabase(__filename);
    repo = new RequestIdempotencyRepository(db.ds, KeyRing.fromConfig(loadConfig({})));
  });
  afterAll(() => db?.drop());

  it('is neither taken nor swept when ADMIN_IDEMPOTENCY_TTL is shorter than its lock, until the lock runs out', async () => {
    // A TTL of 100 ms against the interceptor's 60 s lock: the request is still running when the TTL has passed.
    expect(await repo.claim('operator', 'slow', 'h1', 100, 60_000)).toEqual({ kind: 'new' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await repo.claim('operator', 'slow', 'h1', 100, 60_000)).toEqual({ kind: 'running' }); // not run twice
    expect(await repo.claim('operator', 'slow', 'h2', 100, 60_000)).toEqual({ kind: 'mismatch' }); // nor taken by another body
    expect(await new RetentionRepository(db.ds).deleteExpiredIdempotencyKeys(10)).toBe(0);
  });

  it('is taken afresh once both its TTL and its lock have run out', async () => {
    expect(await repo.claim('operator', 'dead', 'h1', 100, 200)).toEqual({ kind: 'new' });
    await new Promise((r) => setTimeout(r, 400));
    expect(await repo.claim('operator', 'dead', 'h2', 100, 200)).toEqual({ kind: 'new' });
  });
});
