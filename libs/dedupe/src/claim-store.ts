import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MicroBatcher } from '@switchyard/batching';

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

/**
 * Idempotency claims in Postgres. A key is free when it has no row, its row expired (TTL), or it is a
 * `pending` claim whose lease ran out (the claimer crashed before publishing). Claims, completions and
 * releases that arrive together are written in one statement each (see MicroBatcher).
 */
export class ClaimStore {
  private readonly claims: MicroBatcher<ClaimInput, ClaimAnswer>;
  private readonly completions: MicroBatcher<{ key: string; token: string }, boolean>;

  constructor(
    private readonly ds: DataSource,
    private readonly ttlMs: number,
    private readonly defaultLeaseMs: number,
    readonly onBatch: (size: number) => void = () => undefined,
  ) {
    this.claims = new MicroBatcher((inputs) => this.claimBatch(inputs));
    this.completions = new MicroBatcher((inputs) => this.completeBatch(inputs));
  }

  claim(input: ClaimInput): Promise<ClaimAnswer> {
    return this.claims.submit(input);
  }

  complete(key: string, token: string): Promise<boolean> {
    return this.completions.submit({ key, token });
  }

  /** Frees a key whose event could not be stored, so the sender's retry is new. */
  async release(key: string, token: string): Promise<boolean> {
    const [, affected] = await this.ds.query(`DELETE FROM idempotency_claims WHERE key = $1 AND token = $2 AND state = 'pending'`, [
      key,
      token,
    ]);
    return affected > 0;
  }

  /** Deletes expired claims, a bounded number per call; returns how many. */
  async deleteExpired(limit = 10_000): Promise<number> {
    const [, affected] = await this.ds.query(
      `DELETE FROM idempotency_claims WHERE key IN (SELECT key FROM idempotency_claims WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    );
    return affected;
  }

  private async claimBatch(inputs: ClaimInput[]): Promise<ClaimAnswer[]> {
    this.onBatch(inputs.length);
    // A key may appear twice in one batch (two concurrent resends); the statement takes each key once and
    // the repeats learn the first one's fate.
    const firstIndex = new Map<string, number>();
    const unique: Array<ClaimInput & { token: string }> = [];
    for (const input of inputs) {
      if (!firstIndex.has(input.key)) {
        firstIndex.set(input.key, unique.length);
        unique.push({ ...input, token: randomUUID() });
      }
    }
    const rows: Array<{ key: string; claimed: boolean; state: string | null; event_id: string | null }> = await this.ds.query(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int[]) AS i(key, clinic_id, event_id, token, lease_ms)
       ),
       upserted AS (
         INSERT INTO idempotency_claims AS c (key, clinic_id, event_id, state, token, lease_until, expires_at, created_at)
         SELECT key, clinic_id, event_id, 'pending', token, now() + make_interval(secs => lease_ms::double precision / 1000),
                now() + make_interval(secs => $6::double precision / 1000), now()
           FROM input
         ON CONFLICT (key) DO UPDATE SET
           clinic_id = EXCLUDED.clinic_id, event_id = EXCLUDED.event_id, state = 'pending', token = EXCLUDED.token,
           lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at, created_at = now()
         WHERE c.expires_at <= now() OR (c.state = 'pending' AND c.lease_until <= now())
         RETURNING c.key
       )
       SELECT i.key, (u.key IS NOT NULL) AS claimed, old.state, old.event_id
         FROM input i
         LEFT JOIN upserted u ON u.key = i.key
         LEFT JOIN idempotency_claims old ON old.key = i.key`,
      [
        unique.map((u) => u.key),
        unique.map((u) => u.clinicId),
        unique.map((u) => u.eventId),
        unique.map((u) => u.token),
        unique.map((u) => u.leaseMs || this.defaultLeaseMs),
        this.ttlMs,
      ],
    );
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const answers = unique.map((u): ClaimAnswer => {
      const row = byKey.get(u.key)!;
      if (row.claimed) return { outcome: 'new', token: u.token, eventId: u.eventId };
      // Not claimed: completed earlier → duplicate; otherwise someone holds the lease (or committed the
      // row after this statement's snapshot) → in progress, and the sender should retry shortly.
      if (row.state === 'done') return { outcome: 'duplicate', token: '', eventId: row.event_id ?? u.eventId };
      return { outcome: 'in_progress', token: '', eventId: row.event_id ?? u.eventId };
    });
    const answered = new Set<string>();
    return inputs.map((input) => {
      const answer = answers[firstIndex.get(input.key)!]!;
      if (!answered.has(input.key)) {
        answered.add(input.key);
        return answer;
      }
      return answer.outcome === 'new' ? { outcome: 'in_progress', token: '', eventId: answer.eventId } : answer;
    });
  }

  private async completeBatch(inputs: Array<{ key: string; token: string }>): Promise<boolean[]> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows]: [Array<{ key: string; token: string }>, number] = await this.ds.query(
      `UPDATE idempotency_claims c SET state = 'done'
         FROM unnest($1::text[], $2::text[]) AS i(key, token)
        WHERE c.key = i.key AND c.token = i.token
        RETURNING c.key, c.token`,
      [inputs.map((i) => i.key), inputs.map((i) => i.token)],
    );
    const done = new Set(rows.map((r) => `${r.key}\u0000${r.token}`));
    return inputs.map((i) => done.has(`${i.key}\u0000${i.token}`));
  }
}
