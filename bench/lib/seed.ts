import { randomUUID } from 'node:crypto';
import { pgPool } from './pg';
import { generateApiKey, hashApiKey, keyHint } from '@switchyard/tenancy';
import { generateSigningSecret } from '@switchyard/delivery';

/**
 * Inserts `clinics` clinics, one key each, and `subscribersPerClinic` subscribers per clinic pointing at
 * the receiver (CloudEvents format, all events). Returns the plain keys.
 */
export async function seedTenants(
  databaseUrl: string,
  schema: string,
  pepper: string,
  receiverUrl: string,
  clinics: number,
  subscribersPerClinic: number,
): Promise<string[]> {
  const pool = pgPool(databaseUrl, 1, schema);
  const keys: string[] = [];
  try {
    await pool.query('BEGIN');
    for (let i = 0; i < clinics; i++) {
      const clinicId = randomUUID();
      const key = generateApiKey();
      keys.push(key);
      await pool.query(`INSERT INTO clinics (id, name) VALUES ($1, $2)`, [clinicId, `Bench clinic ${i + 1}`]);
      await pool.query(`INSERT INTO api_keys (id, clinic_id, key_hash, hint) VALUES ($1, $2, $3, $4)`, [
        randomUUID(),
        clinicId,
        hashApiKey(key, pepper),
        keyHint(key),
      ]);
      for (let s = 0; s < subscribersPerClinic; s++) {
        await pool.query(`INSERT INTO subscribers (id, clinic_id, url, secret) VALUES ($1, $2, $3, $4)`, [
          randomUUID(),
          clinicId,
          `${receiverUrl}/hooks/${i}/${s}`,
          generateSigningSecret(),
        ]);
      }
    }
    await pool.query('COMMIT');
    return keys;
  } finally {
    await pool.end();
  }
}
