import { DataSource } from 'typeorm';
import { LOOKUP_TIMEOUT_MS, rawQuery } from '../raw-query';

export interface KeyOwner {
  keyId: string;
  clinicId: string;
  clinicEnabled: boolean;
  /** When the key stops working (a rotation's grace), checked at each use of a cached answer. */
  expiresAt: Date | null;
}

export class ApiKeyRepository {
  constructor(private readonly ds: DataSource) {}

  /** The clinic a key hash belongs to, if the key is neither revoked nor expired. */
  async findOwner(keyHash: string): Promise<KeyOwner | null> {
    const rows: Array<{ key_id: string; clinic_id: string; enabled: boolean; expires_at: Date | null }> = await rawQuery(
      this.ds,
      `SELECT k.id AS key_id, k.clinic_id, c.enabled, k.expires_at
         FROM api_keys k JOIN clinics c ON c.id = k.clinic_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
      [keyHash],
      { timeoutMs: LOOKUP_TIMEOUT_MS },
    );
    const row = rows[0];
    return row ? { keyId: row.key_id, clinicId: row.clinic_id, clinicEnabled: row.enabled, expiresAt: row.expires_at } : null;
  }

  /**
   * Adds a key to a clinic; every other live key of the clinic expires after `graceSeconds`
   * (never later than it already would).
   */
  async issue(clinicId: string, key: { id: string; keyHash: string; hint: string }, graceSeconds: number): Promise<boolean> {
    return this.ds.transaction(async (em) => {
      const exists = await em.query(`SELECT 1 FROM clinics WHERE id = $1 FOR UPDATE`, [clinicId]);
      if (exists.length === 0) return false;
      await em.query(
        `UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $2))
          WHERE clinic_id = $1 AND revoked_at IS NULL`,
        [clinicId, graceSeconds],
      );
      await em.query(`INSERT INTO api_keys (id, clinic_id, key_hash, hint) VALUES ($1, $2, $3, $4)`, [
        key.id,
        clinicId,
        key.keyHash,
        key.hint,
      ]);
      return true;
    });
  }

  async revoke(clinicId: string, keyId: string): Promise<boolean> {
    const [, affected] = await this.ds.query(
      `UPDATE api_keys SET revoked_at = now() WHERE clinic_id = $1 AND id = $2 AND revoked_at IS NULL`,
      [clinicId, keyId],
    );
    return affected > 0;
  }

  async list(clinicId: string): Promise<Array<{ key_id: string; hint: string; created_at: string; expires_at: string | null; revoked_at: string | null }>> {
    const rows = await this.ds.query(
      `SELECT id, hint, created_at, expires_at, revoked_at FROM api_keys WHERE clinic_id = $1 ORDER BY created_at`,
      [clinicId],
    );
    return rows.map((r: any) => ({
      key_id: r.id,
      hint: r.hint,
      created_at: r.created_at.toISOString(),
      expires_at: r.expires_at?.toISOString() ?? null,
      revoked_at: r.revoked_at?.toISOString() ?? null,
    }));
  }
}
