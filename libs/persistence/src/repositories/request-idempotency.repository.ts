import { DataSource } from 'typeorm';
import type { KeyRing } from '@switchyard/secrets';
import { rawQuery } from '../raw-query';

/** What an `Idempotency-Key` request meets: its own new claim, the first answer, another body, or the first request still running. */
export type IdempotencyClaim =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: string }
  | { kind: 'mismatch' }
  | { kind: 'running' };

/**
 * The remembered answers of admin POSTs sent with an `Idempotency-Key` (table request_idempotency), per
 * principal scope. An answer may hold a secret shown once (a new webhook's signing secret, a clinic's first
 * key), so it is stored encrypted (KeyRing, bound to scope and key) and expires after its TTL.
 */
export class RequestIdempotencyRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: KeyRing,
  ) {}

  /**
   * Claims `key` for a request whose method, path and body hash to `hash`. A claim whose TTL ran out is
   * taken afresh, and so is a running one whose lock ran out (its process died) when the body is the same.
   * A running claim is not taken while its lock lasts, even past its TTL: with a TTL shorter than the lock, a
   * request still running was taken by a retry (run twice) or by another body (RetentionRepository spares it too).
   */
  async claim(scope: string, key: string, hash: string, ttlMs: number, lockMs: number): Promise<IdempotencyClaim> {
    const rows: Array<{ kind: string; request_hash: string | null; state: string | null; response_status: number | null; response_body: string | null }> =
      await rawQuery(
        this.ds,
        `WITH claimed AS (
           INSERT INTO request_idempotency AS r (scope, key, request_hash, state, locked_until, expires_at)
           VALUES ($1, $2, $3, 'running', now() + make_interval(secs => $5::double precision / 1000), now() + make_interval(secs => $4::double precision / 1000))
           ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, state = 'running', locked_until = EXCLUDED.locked_until,
                  expires_at = EXCLUDED.expires_at, created_at = now(), response_status = NULL, response_body = NULL
            WHERE (r.expires_at <= now() AND NOT (r.state = 'running' AND r.locked_until > now()))
               OR (r.state = 'running' AND r.locked_until <= now() AND r.request_hash = EXCLUDED.request_hash)
           RETURNING 1
         )
         SELECT 'new' AS kind, NULL AS request_hash, NULL AS state, NULL::int AS response_status, NULL AS response_body FROM claimed
         UNION ALL
         SELECT 'existing', request_hash, state, response_status, response_body FROM request_idempotency
          WHERE scope = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claimed)`,
        [scope, key, hash, ttlMs, lockMs],
      );
    const row = rows[0];
    // Nothing at all: a concurrent request inserted the claim after this statement's snapshot was taken.
    if (!row) return { kind: 'running' };
    if (row.kind === 'new') return { kind: 'new' };
    if (row.request_hash !== hash) return { kind: 'mismatch' };
    if (row.state !== 'done') return { kind: 'running' };
    return { kind: 'replay', status: row.response_status!, body: this.keys.decrypt(row.response_body!, `${scope}\n${key}`) };
  }

  /** Stores the answer of a claimed request (encrypted). */
  async complete(scope: string, key: string, status: number, body: string): Promise<void> {
    await rawQuery(
      this.ds,
      `UPDATE request_idempotency SET state = 'done', response_status = $3, response_body = $4 WHERE scope = $1 AND key = $2 AND state = 'running'`,
      [scope, key, status, this.keys.encrypt(body, `${scope}\n${key}`)],
    );
  }

  /** Forgets a claim whose request failed, so that a retry runs it again. */
  async release(scope: string, key: string): Promise<void> {
    await rawQuery(this.ds, `DELETE FROM request_idempotency WHERE scope = $1 AND key = $2 AND state = 'running'`, [scope, key]);
  }

  /** Re-encrypts, under the active key, up to `limit` remembered answers after `after` (scope, key) that are under another key. */
  async reencryptBatch(after: [string, string], limit: number): Promise<{ scanned: number; reencrypted: number; unreadable: number; last: [string, string] | null }> {
    const prefix = `enc:v1:${this.keys.activeKeyId}:`;
    return this.ds.transaction(async (em) => {
      const rows: Array<{ scope: string; key: string; response_body: string }> = await em.query(
        `SELECT scope, key, response_body FROM request_idempotency
          WHERE (scope, key) > ($1, $2) AND response_body IS NOT NULL AND left(response_body, length($3)) <> $3
          ORDER BY scope, key LIMIT $4 FOR UPDATE SKIP LOCKED`,
        [after[0], after[1], prefix, limit],
      );
      let reencrypted = 0;
      let unreadable = 0;
      for (const r of rows) {
        const context = `${r.scope}\n${r.key}`;
        let body: string;
        try {
          body = this.keys.encrypt(this.keys.decrypt(r.response_body, context), context);
        } catch {
          unreadable++;
          continue;
        }
        await em.query(`UPDATE request_idempotency SET response_body = $3 WHERE scope = $1 AND key = $2`, [r.scope, r.key, body]);
        reencrypted++;
      }
      const last = rows[rows.length - 1];
      return { scanned: rows.length, reencrypted, unreadable, last: last ? [last.scope, last.key] : null };
    });
  }
}
