import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CLAIM_SESSION_SETTINGS, ClaimAnswer, ClaimStore, claimStatementsInFlight } from '@switchyard/dedupe';
import { TcpProxy } from '../reliability/support/tcp-proxy';
import { createDataSource } from '@switchyard/persistence';
import { TEST_DATABASE_URL, heldTransaction, inOppositeOrders, lockWaits, testDatabase, waitingOn } from '../support/database';
import { eventually } from '../support/eventually';

describe('ClaimStore (real Postgres)', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let ds: DataSource;
  let store: ClaimStore;
  const batches: number[] = [];

  beforeAll(async () => {
    db = await testDatabase(__filename);
    ds = db.ds;
    store = new ClaimStore(ds, 24 * 3_600_000, 30_000, (n) => batches.push(n));
  });
  afterAll(() => db?.drop());

  /** Runs `fn` on a data source of one connection to this file's schema, opened with `sessionSettings`. */
  const onOneConnection = async <T>(sessionSettings: Record<string, string>, fn: (single: DataSource) => Promise<T>): Promise<T> => {
    const single = await createDataSource({ url: TEST_DATABASE_URL, schema: db.schema, poolSize: 1, applicationName: 'test', sessionSettings }).initialize();
    try {
      return await fn(single);
    } finally {
      await single.destroy();
    }
  };

  const input = (key: string = randomUUID(), leaseMs = 0) => ({ key, clinicId: 'clinic-1', eventId: randomUUID(), leaseMs });

  it('gives up a claim statement on a connection that stopped answering, and claims on a new one', async () => {
    // Postgres behind a proxy whose open connections go silent while new ones get through (a failover's old
    // primary gone without closing them). Before, the statements on them waited for the kernel (~15 min) and
    // took every place of the store: no claim was answered meanwhile.
    const pg = new URL(TEST_DATABASE_URL);
    const proxy = await new TcpProxy(pg.hostname, Number(pg.port || 5432)).start();
    const proxied = await createDataSource({ url: proxy.urlTo(TEST_DATABASE_URL), schema: db.schema, poolSize: 2, applicationName: 'test', sessionSettings: CLAIM_SESSION_SETTINGS }).initialize();
    try {
      const short = new ClaimStore(proxied, 24 * 3_600_000, 30_000, () => undefined, 2, 300);
      expect((await short.claim(input())).outcome).toBe('new');
      proxy.freezeOpen();
      await expect(Promise.all([short.claim(input()), short.claim(input())])).rejects.toThrow(/timeout/i);
      const started = Date.now();
      expect((await short.claim(input())).outcome).toBe('new');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await proxied.destroy().catch(() => undefined);
      await proxy.stop();
    }
  });

  it('claims a new key, reports it in progress until completed, then duplicate with the original event id', async () => {
    const first = input();
    const claim = await store.claim(first);
    expect(claim).toEqual({ outcome: 'new', token: expect.any(String), eventId: first.eventId });
    expect((await store.claim(input(first.key))).outcome).toBe('in_progress');
    await expect(store.complete(first.key, claim.token)).resolves.toBe(true);
    await expect(store.claim(input(first.key))).resolves.toEqual({ outcome: 'duplicate', token: '', eventId: first.eventId });
  });

  it('writes claims and completions made together in one statement, completions first', async () => {
    const first = input();
    const claim = await store.claim(first);
    if (claim.outcome !== 'new') throw new Error('expected a new claim');
    const other = input();
    batches.length = 0;
    const [completed, resend, unrelated] = await Promise.all([
      store.complete(first.key, claim.token),
      store.claim(input(first.key)),
      store.claim(other),
    ]);
    expect(batches).toEqual([3]);
    expect(completed).toBe(true);
    expect(resend).toEqual({ outcome: 'duplicate', token: '', eventId: first.eventId });
    expect(unrelated.outcome).toBe('new');
  });

  it('answers in progress for a claim whose key a failed completion in the same statement did not finish', async () => {
    const first = input();
    await store.claim(first);
    const [completed, resend] = await Promise.all([store.complete(first.key, 'not-the-token'), store.claim(input(first.key))]);
    expect(completed).toBe(false);
    expect(resend.outcome).toBe('in_progress');
  });

  it('frees a released key so the retry is new, and refuses a release with the wrong token', async () => {
    const first = input();
    const claim = await store.claim(first);
    await expect(store.release(first.key, 'not-the-token')).resolves.toBe(false);
    await expect(store.release(first.key, claim.token)).resolves.toBe(true);
    expect((await store.claim(input(first.key))).outcome).toBe('new');
  });

  it('lets a claim whose lease ran out (the claimer crashed before publishing) be taken again', async () => {
    const first = input(randomUUID(), 50);
    const stale = await store.claim(first);
    await new Promise((r) => setTimeout(r, 120));
    const retry = await store.claim(input(first.key));
    expect(retry.outcome).toBe('new');
    // The crashed claimer can no longer complete what is now someone else's claim.
    await expect(store.complete(first.key, stale.token)).resolves.toBe(false);
    await expect(store.complete(first.key, retry.token)).resolves.toBe(true);
  });

  it('keeps a pending claim whose lease outlasts the TTL until the lease runs out: neither re-claimed nor swept', async () => {
    // A lease longer than DEDUPE_TTL (a short SENDER_RETRY_SCHEDULE allows a TTL under DEDUPE_LEASE; a client's
    // lease_ms may be up to an hour): the claim expired while its claimer was still publishing, and a resend
    // was answered new and published the event a second time, or the sweep deleted the claim under it.
    const short = new ClaimStore(ds, 50, 30_000);
    const first = input(randomUUID(), 400);
    const held = await short.claim(first);
    await new Promise((r) => setTimeout(r, 150)); // past the TTL, within the lease
    expect((await short.claim(input(first.key))).outcome).toBe('in_progress');
    await short.deleteExpired();
    expect(await ds.query(`SELECT token FROM idempotency_claims WHERE key = $1`, [first.key])).toEqual([{ token: held.token }]);
    await new Promise((r) => setTimeout(r, 350)); // the lease has run out: the key is free again
    expect((await short.claim(input(first.key))).outcome).toBe('new');
  });

  it('treats an expired completed claim as new, and deletes expired claims', async () => {
    const short = new ClaimStore(ds, 50, 30_000);
    const first = input();
    const claim = await short.claim(first);
    await short.complete(first.key, claim.token);
    await new Promise((r) => setTimeout(r, 120));
    const again = await short.claim(input(first.key));
    expect(again.outcome).toBe('new');
    await short.complete(first.key, again.token); // a pending claim is swept only once its lease has run out too
    await new Promise((r) => setTimeout(r, 120));
    expect(await short.deleteExpired()).toBeGreaterThanOrEqual(1);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM idempotency_claims WHERE key = $1`, [first.key]);
    expect(n).toBe(0);
  });

  it('answers in progress, not duplicate, for an expired completed key another claim re-takes while this one waits for it', async () => {
    // The statement reads the key's old row from its snapshot: completed. The other claim (a resend sent to
    // another dedupe replica) re-takes the expired key and commits while this statement waits for its row, so
    // this one does not claim it; it used to answer duplicate from the old row, and the sender dropped an
    // event the other claim had not stored yet (its publish may still fail and release the key).
    const short = new ClaimStore(ds, 50, 30_000);
    const first = input();
    await short.complete(first.key, (await short.claim(first)).token);
    await new Promise((r) => setTimeout(r, 120));
    const other = await heldTransaction(
      db.schema,
      `UPDATE idempotency_claims SET state = 'pending', token = 'other', event_id = $2, lease_until = now() + interval '30 seconds',
              expires_at = now() + interval '1 day' WHERE key = $1`,
      [first.key, randomUUID()],
    );
    const waiting = short.claim(input(first.key));
    try {
      await eventually(async () => (await waitingOn(ds, other.pid)) > 0, 5_000, 'the claim waiting for the other claim\'s row');
    } finally {
      await other.commit();
    }
    expect((await waiting).outcome).toBe('in_progress');
  });

  it('the expiry sweep passes over an expired key a claim statement holds, and takes it on a later sweep', async () => {
    // A re-claim of an expired key holds its row; the sweep locks in expiry order while claims lock in key
    // order, so waiting for it could deadlock the two. It deletes the rest and leaves that one.
    const short = new ClaimStore(ds, 50, 30_000);
    const [held, free] = [input(), input()];
    for (const c of [held, free]) await short.complete(c.key, (await short.claim(c)).token);
    await new Promise((r) => setTimeout(r, 120));
    const reclaiming = await heldTransaction(db.schema, `SELECT 1 FROM idempotency_claims WHERE key = $1 FOR NO KEY UPDATE`, [held.key]);
    try {
      await short.deleteExpired();
      const left = await ds.query(`SELECT key FROM idempotency_claims WHERE key = ANY($1::text[])`, [[held.key, free.key]]);
      expect(left).toEqual([{ key: held.key }]);
    } finally {
      await reclaiming.commit();
    }
    await short.deleteExpired();
    expect(await ds.query(`SELECT key FROM idempotency_claims WHERE key = $1`, [held.key])).toEqual([]);
  });

  it('writes concurrent claims in few statements, and gives exactly one of 20 concurrent resends the claim', async () => {
    batches.length = 0;
    const keys = Array.from({ length: 200 }, () => randomUUID());
    const results = await Promise.all(keys.map((k) => store.claim(input(k))));
    expect(results.every((r) => r.outcome === 'new')).toBe(true);
    expect(batches.length).toBeLessThan(200 / 4);

    const same = randomUUID();
    const racing = await Promise.all(Array.from({ length: 20 }, () => store.claim(input(same))));
    expect(racing.filter((r) => r.outcome === 'new')).toHaveLength(1);
    expect(racing.filter((r) => r.outcome === 'in_progress')).toHaveLength(19);
  });

  it('two claim statements over the same keys in opposite orders both finish (a resend in flight with its first claim)', async () => {
    const [first, middle, last] = [randomUUID(), randomUUID(), randomUUID()].sort();
    const claimAll = (keys: Array<ReturnType<typeof randomUUID>>) => Promise.all(keys.map((k) => store.claim(input(k, 60_000)))); // one statement: one turn of the loop
    const answers = await inOppositeOrders(
      db,
      {
        sql: `INSERT INTO idempotency_claims (key, clinic_id, event_id, state, token, lease_until, expires_at, created_at)
              VALUES ($1, 'clinic-1', gen_random_uuid(), 'pending', 'third', now() + interval '1 minute', now() + interval '1 day', now())`,
        params: [middle],
      },
      'idempotency_claims',
      (order) => claimAll(order === 'ascending' ? [first!, middle!, last!] : [last!, middle!, first!]),
    );

    /** The two statements' answers for one key: its place in the first's keys and in the second's. */
    const outcomes = (at: [number, number]) => [answers[0][at[0]]!.outcome, answers[1][at[1]]!.outcome].sort();
    // The first and last keys are each new to exactly one statement; the middle one is the third's.
    expect(outcomes([0, 2])).toEqual(['in_progress', 'new']);
    expect(outcomes([2, 0])).toEqual(['in_progress', 'new']);
    expect(outcomes([1, 1])).toEqual(['in_progress', 'in_progress']);
  });

  it('a claim statement and a completion crossed with a resend of both keys both finish (the deadlock victim is run again)', async () => {
    // A statement writes its claims (in key order), then its completions (in key order). Statement A claims a
    // and m and completes c; statement B (another dedupe replica) carries resends of c and a: B locks c, then
    // waits for A's new row a, while A, once past m (held here), waits for B's lock on c. Postgres breaks the
    // cycle after deadlock_timeout by failing one statement: every claim in it answered unavailable (ingress 503).
    const p = randomUUID();
    const [c, a, m] = [`${p}-1`, `${p}-2`, `${p}-3`];
    const pendingC = await store.claim(input(c, 60_000));
    await store.complete(m, (await store.claim(input(m))).token);
    const replicaB = new ClaimStore(ds, 24 * 3_600_000, 30_000);
    const holdM = await heldTransaction(db.schema, `SELECT 1 FROM idempotency_claims WHERE key = $1 FOR NO KEY UPDATE`, [m]);
    const before = await lockWaits(ds, 'idempotency_claims');
    let statementA: Promise<unknown[]>;
    let statementB: Promise<unknown[]>;
    try {
      statementA = Promise.all([store.complete(c, pendingC.token), store.claim(input(a, 60_000)), store.claim(input(m))]);
      await eventually(async () => (await lockWaits(ds, 'idempotency_claims')) >= before + 1, 5_000, 'A waiting at m');
      statementB = Promise.all([replicaB.claim(input(c)), replicaB.claim(input(a))]);
      await eventually(async () => (await lockWaits(ds, 'idempotency_claims')) >= before + 2, 5_000, 'B waiting at a');
    } finally {
      await holdM.commit();
    }
    const [[completedC, claimA, claimM], [resendC, resendA]] = (await Promise.all([statementA, statementB])) as [[boolean, ClaimAnswer, ClaimAnswer], [ClaimAnswer, ClaimAnswer]];
    expect(completedC).toBe(true);
    expect(claimM.outcome).toBe('duplicate');
    // Exactly one of a's two claims took it, whichever statement went first; c was pending, then done.
    expect([claimA.outcome, resendA.outcome].sort()).toEqual(['in_progress', 'new']);
    expect(['in_progress', 'duplicate']).toContain(resendC.outcome);
  });

  it('claims through the key index on the generic plan of the prepared claim, with the service\'s session settings', async () => {
    // What Postgres runs once it switches the prepared claim to a generic plan, made from this young table's statistics.
    const planOn = (settings: Record<string, string>) =>
      onOneConnection({ ...settings, plan_cache_mode: 'force_generic_plan' }, async (single) => {
        await new ClaimStore(single, 60_000, 30_000).claim(input()); // prepares `dedupe_claim` on the one connection
        const rows: Array<{ 'QUERY PLAN': string }> = await single.query(
          `EXPLAIN EXECUTE dedupe_claim('{k}'::text[], '{c}'::text[], ARRAY[gen_random_uuid()], '{t}'::text[], '{0}'::int[], 1000, '{k2}'::text[], '{t2}'::text[])`,
        );
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    expect(await planOn({})).toMatch(/Seq Scan on idempotency_claims/); // the hazard the settings are for
    const plan = await planOn(CLAIM_SESSION_SETTINGS);
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).toMatch(/Index Scan using idempotency_claims_pkey on idempotency_claims/);
  });

  it('runs the prepared claim on its generic plan with the service\'s session settings, re-planning it for every claim without them', async () => {
    const plansOn = (settings: Record<string, string>) =>
      onOneConnection(settings, async (single) => {
        const claims = new ClaimStore(single, 60_000, 30_000);
        for (let i = 0; i < 20; i++) await claims.claim(input());
        const [row] = await single.query(`SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'dedupe_claim'`);
        return row as { generic: number; custom: number };
      });
    expect(await plansOn(CLAIM_SESSION_SETTINGS)).toEqual({ generic: 20, custom: 0 });
    // Left to choose, Postgres takes custom plans (parsing aside, a plan per claim): what the setting is for.
    expect((await plansOn({ enable_seqscan: 'off' })).custom).toBeGreaterThan(5);
  });
});

describe('claimStatementsInFlight', () => {
  it('uses up to 8 connections of the pool and always leaves 2, but never fewer than 1 statement', () => {
    expect([1, 2, 3, 4, 10, 11, 50].map(claimStatementsInFlight)).toEqual([1, 1, 1, 2, 8, 8, 8]);
  });
});
