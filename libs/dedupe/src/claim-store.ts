import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MicroBatcher } from '@switchyard/batching';
import { rawQuery } from '@switchyard/persistence';

export type ClaimOutcome = 'new' | 'duplicate' | 'in_progress';

export interface ClaimInput {
  key: string;
  clinicId: string;
  eventId: string;
  leaseMs: number;
}

export interface ClaimAnswer {
  outcome: ClaimOutcome;
  token: string;
  eventId: string;
}

export interface Completion {
  key: string;
  token: string;
}

type Op = { kind: 'claim'; input: ClaimInput } | { kind: 'complete'; completion: Completion };
type OpAnswer = ClaimAnswer | boolean;

/** Orders claims and completions by key (see ClaimStore.writeOps). */
const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * Runs a claim statement, and again (at most twice more) if Postgres failed it as a deadlock's victim. Claims
 * and completions are each written in key order, but a statement writes its claims before its completions, so
 * one that completes c and claims a, crossed with another replica's resends of c and a, can hold what the other
 * waits for. Postgres then fails one after `deadlock_timeout` (1 s), having written nothing of it: run again, it
 * finds the other's rows committed. Failed, every claim in it answered unavailable (a 503 for the sender).
 */
async function againIfDeadlocked<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (err) {
      if ((err as { code?: string }).code !== DEADLOCK_DETECTED || attempt === 3) throw err;
    }
  }
}

const DEADLOCK_DETECTED = '40P01';

/**
 * Claim statements in flight at once for a pool of `poolSize` connections: up to 8, leaving 2 connections to
 * the sweeper and the health checks. At saturation a statement takes ~5 ms (commit included) while ingress
 * waits on it: 8 instead of MicroBatcher's default 4 took ingress from ~3,900 to ~4,200 events/s
 * (bench/RESULTS.md).
 */
export function claimStatementsInFlight(poolSize: number): number {
  return Math.max(1, Math.min(8, poolSize - 2));
}

/**
 * A claim statement takes milliseconds, seconds only on a machine far past saturation, and ingress gives up
 * on its claim after DEDUPE_TIMEOUT (2 s). One still unanswered after this long is on a connection to a
 * Postgres that stopped answering without closing it (a failover whose old primary vanished, a network that
 * drops packets): the statement is given up and its connection dropped, so the claims behind it go out on a
 * new one. Left waiting, such statements took every one of the store's places (`statementsInFlight`) until
 * the kernel gave up on their sockets, some fifteen minutes, and dedupe answered nothing meanwhile.
 */
export const CLAIM_STATEMENT_TIMEOUT_MS = 10_000;

/**
 * The settings of the dedupe service's connections. The claim statement is prepared (ClaimStore.writeOps) so
 * that Postgres parses and plans it once per connection, which only a generic plan does:
 *
 * - `plan_cache_mode = force_generic_plan`. Left to choose (`auto`), Postgres compared the generic plan's
 *   estimated cost with the custom plans' and kept re-planning the claim for every execution: 0.31 ms of
 *   backend CPU per single-key claim against 0.13 ms on the generic plan (bench/RESULTS.md, seventh round).
 * - `enable_seqscan = off`, because a generic plan is made from the statistics of its moment: for a young
 *   `idempotency_claims` (a new deployment, a test schema) they say "tiny", and that plan seq-scans the
 *   table for every key, slower with every claim stored. Every statement of the service reaches the table
 *   through an index (the key; `expires_at` for the clean-up), so its connections rule seq scans out (sixth round).
 */
export const CLAIM_SESSION_SETTINGS: Readonly<Record<string, string>> = { enable_seqscan: 'off', plan_cache_mode: 'force_generic_plan' };

/**
 * Idempotency claims in Postgres. A key is free when it has no row, its `done` row expired (TTL), or it is a
 * `pending` claim whose lease ran out (the claimer crashed before publishing). A pending claim whose lease
 * outlasts the TTL (a TTL under DEDUPE_LEASE, or a client's longer `lease_ms`) is held until the lease runs
 * out: neither a resend nor the expiry sweep takes the key from a claimer that may still be publishing. The claims and completions
 * made in one turn of the event loop are written in one statement (see MicroBatcher), completions first:
 * a claim of a key completed in the same statement is a duplicate.
 */
export class ClaimStore {
  private readonly ops: MicroBatcher<Op, OpAnswer>;

  constructor(
    private readonly ds: DataSource,
    private readonly ttlMs: number,
    private readonly defaultLeaseMs: number,
    readonly onBatch: (size: number) => void = () => undefined,
    statementsInFlight = claimStatementsInFlight(10),
    private readonly statementTimeoutMs = CLAIM_STATEMENT_TIMEOUT_MS,
  ) {
    this.ops = new MicroBatcher((ops) => this.writeOps(ops), 256, statementsInFlight);
  }

  claim(input: ClaimInput): Promise<ClaimAnswer> {
    return this.ops.submit({ kind: 'claim', input }) as Promise<ClaimAnswer>;
  }

  complete(key: string, token: string): Promise<boolean> {
    return this.ops.submit({ kind: 'complete', completion: { key, token } }) as Promise<boolean>;
  }

  /** Frees a key whose event could not be stored, so the sender's retry is new. */
  async release(key: string, token: string): Promise<boolean> {
    const [, affected] = await rawQuery(
      this.ds,
      `DELETE FROM idempotency_claims WHERE key = $1 AND token = $2 AND state = 'pending'`,
      [key, token],
      { timeoutMs: this.statementTimeoutMs },
    );
    return affected > 0;
  }

  /**
   * Deletes expired claims, a bounded number per call; returns how many (a pending one only once its lease
   * has run out as well: its claimer may still be publishing). Passes over keys a claim statement
   * holds (it is re-claiming them) instead of waiting: locking them in `expires_at` order while claims lock
   * in key order could deadlock the two.
   */
  async deleteExpired(limit = 10_000): Promise<number> {
    const [, affected] = await rawQuery(
      this.ds,
      `DELETE FROM idempotency_claims WHERE key IN (
         SELECT key FROM idempotency_claims WHERE expires_at <= now() AND (state = 'done' OR lease_until <= now()) LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [limit],
      { timeoutMs: this.statementTimeoutMs },
    );
    return affected;
  }

  private async writeOps(ops: Op[]): Promise<OpAnswer[]> {
    this.onBatch(ops.length);
    const completions = ops.flatMap((op) => (op.kind === 'complete' ? [op.completion] : []));
    const completing = new Set(completions.map((c) => c.key));
    // A key may appear twice in one batch (two concurrent resends); the statement takes each key once and
    // the repeats learn the first one's fate. Keys completed in this batch are answered from the completion.
    const firstIndex = new Map<string, number>();
    const unique: Array<ClaimInput & { token: string }> = [];
    for (const op of ops) {
      if (op.kind !== 'claim' || completing.has(op.input.key) || firstIndex.has(op.input.key)) continue;
      firstIndex.set(op.input.key, unique.length);
      unique.push({ ...op.input, token: randomUUID() });
    }
    // Keys in one order in every statement (claims, then completions, each sorted), so two statements that
    // meet on the same keys (a resend claimed while the first claim's batch is still in flight) wait for each
    // other instead of deadlocking: in arrival order, two batches held each other's key in a bench run
    // (bench/RESULTS.md, eighteenth round). Answers are matched by key, not by position.
    const claimed = [...unique].sort(byKey);
    completions.sort(byKey);
    const rows: Array<{ kind: 'claim' | 'done'; key: string; token: string | null; claimed: boolean; state: string | null; event_id: string | null }> =
      await againIfDeadlocked(() => rawQuery(
        this.ds,
        `WITH input AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int[]) AS i(key, clinic_id, event_id, token, lease_ms)
         ),
         done AS (
           UPDATE idempotency_claims c SET state = 'done'
             FROM unnest($7::text[], $8::text[]) AS d(key, token)
            WHERE c.key = d.key AND c.token = d.token
            RETURNING c.key, c.token, c.event_id
         ),
         upserted AS (
           INSERT INTO idempotency_claims AS c (key, clinic_id, event_id, state, token, lease_until, expires_at, created_at)
           SELECT key, clinic_id, event_id, 'pending', token, now() + make_interval(secs => lease_ms::double precision / 1000),
                  now() + make_interval(secs => $6::double precision / 1000), now()
             FROM input
           ON CONFLICT (key) DO UPDATE SET
             clinic_id = EXCLUDED.clinic_id, event_id = EXCLUDED.event_id, state = 'pending', token = EXCLUDED.token,
             lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at, created_at = now()
           WHERE (c.state = 'done' AND c.expires_at <= now()) OR (c.state = 'pending' AND c.lease_until <= now())
           RETURNING c.key
         )
         SELECT 'claim' AS kind, i.key, NULL::text AS token, (u.key IS NOT NULL) AS claimed,
                CASE WHEN old.expires_at > now() THEN old.state END AS state, old.event_id
           FROM input i
           LEFT JOIN upserted u ON u.key = i.key
           LEFT JOIN idempotency_claims old ON old.key = i.key
         UNION ALL
         SELECT 'done', d.key, d.token, true, 'done', d.event_id FROM done d`,
        [
          claimed.map((u) => u.key),
          claimed.map((u) => u.clinicId),
          claimed.map((u) => u.eventId),
          claimed.map((u) => u.token),
          claimed.map((u) => u.leaseMs || this.defaultLeaseMs),
          this.ttlMs,
          completions.map((c) => c.key),
          completions.map((c) => c.token),
        ],
        // Prepared: parsing and planning this statement was ~0.2 ms of Postgres CPU per claim, a claim per event at
        // moderate rates. Its generic plan probes the key index for every key on connections with CLAIM_SESSION_SETTINGS.
        { name: 'dedupe_claim', timeoutMs: this.statementTimeoutMs },
      ));
    const claimRows = new Map<string, (typeof rows)[number]>();
    /** The keys this statement completed, with the token that completed each (only the holder's matches). */
    const completed = new Map<string, { token: string; eventId: string }>();
    for (const row of rows) {
      if (row.kind === 'claim') claimRows.set(row.key, row);
      else completed.set(row.key, { token: row.token!, eventId: row.event_id! });
    }
    const answers = unique.map((u): ClaimAnswer => {
      const row = claimRows.get(u.key)!;
      if (row.claimed) return { outcome: 'new', token: u.token, eventId: u.eventId };
      // Not claimed: completed earlier → duplicate; otherwise someone holds the lease (or committed the
      // row after this statement's snapshot) → in progress, and the sender should retry shortly. A row that
      // had expired in the snapshot has no state here: not claimed, another claim re-took it meanwhile (its
      // event is not stored yet, and may never be), so that is in progress too, not a duplicate.
      if (row.state === 'done') return { outcome: 'duplicate', token: '', eventId: row.event_id ?? u.eventId };
      return { outcome: 'in_progress', token: '', eventId: row.event_id ?? u.eventId };
    });
    const answered = new Set<string>();
    return ops.map((op): OpAnswer => {
      if (op.kind === 'complete') return completed.get(op.completion.key)?.token === op.completion.token;
      const { key, eventId } = op.input;
      if (completing.has(key)) {
        const completedAs = completed.get(key)?.eventId;
        // The holder's completion failed (its lease ran out and someone else took the key): still held.
        return completedAs ? { outcome: 'duplicate', token: '', eventId: completedAs } : { outcome: 'in_progress', token: '', eventId };
      }
      const answer = answers[firstIndex.get(key)!]!;
      if (!answered.has(key)) {
        answered.add(key);
        return answer;
      }
      return answer.outcome === 'new' ? { outcome: 'in_progress', token: '', eventId: answer.eventId } : answer;
    });
  }
}
