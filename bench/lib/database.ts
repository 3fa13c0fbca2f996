import { pgPool } from './pg';

export interface BenchDatabase {
  name: string;
  /** DATABASE_URL with the bench database in place of the configured one. */
  url: string;
  /** Whether this run created it (and so drops it at the end). */
  created: boolean;
  /** Its oid: `pg_stat_statements.dbid` of every statement run in it. */
  oid: number;
}

/**
 * The bench runs in a database of its own, so that `pg_stat_statements` (filtered by database) counts only
 * its statements and the CPU meter only its backends, whatever else the Postgres server runs. Created when
 * missing; the run's schema inside it is what each run removes.
 */
export async function openBenchDatabase(databaseUrl: string, name: string): Promise<BenchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`BENCH_DATABASE=${name}: lower-case letters, digits and _ only`);
  const admin = pgPool(databaseUrl, 1);
  let created = false;
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
    if (exists.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE "${name}"`);
        created = true;
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created meanwhile by someone else: theirs
      }
    }
    const oid = Number((await admin.query(`SELECT oid FROM pg_database WHERE datname = $1`, [name])).rows[0].oid);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    return { name, url: url.toString(), created, oid };
  } finally {
    await admin.end();
  }
}

/** Drops the bench database if this run created it (its connections are closed by then; FORCE ends stragglers). */
export async function dropBenchDatabase(databaseUrl: string, db: BenchDatabase): Promise<void> {
  if (!db.created) return;
  const admin = pgPool(databaseUrl, 1);
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
