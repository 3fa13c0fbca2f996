import { BenchDatabase } from './database';
import { PgPool, pgPool } from './pg';

export interface StatementUse {
  deliveries: number;
  /** Statements of every app (and their BEGIN/COMMIT) per delivery, and what they cost Postgres. */
  callsPerDelivery: number | null;
  execMsPerDelivery: number | null;
  walBytesPerDelivery: number | null;
  calls: number;
  /** The statements run most often: the first 60 characters of the normalised text. */
  top: Array<{ query: string; calls: number; perDelivery: number | null; meanMs: number }>;
}

/** What `read` answers when the extension is not there: the bench says so and goes on. */
export type StatementReport = StatementUse | { unavailable: string };

/**
 * Postgres statements per delivery, from `pg_stat_statements`, counting only the bench database's
 * (`dbid`), reset before each measured phase. Needs `shared_preload_libraries = 'pg_stat_statements'`;
 * without it every report is `{ unavailable }`.
 */
export class StatementMeter {
  private constructor(
    private readonly pool: PgPool | null,
    private readonly dbid: number,
    readonly unavailable: string | null,
  ) {}

  static async open(db: BenchDatabase): Promise<StatementMeter> {
    const pool = pgPool(db.url, 1);
    try {
      await pool.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
      await pool.query(`SELECT 1 FROM pg_stat_statements LIMIT 1`);
      return new StatementMeter(pool, db.oid, null);
    } catch (err) {
      await pool.end();
      const message = (err as Error).message;
      const reason = /shared_preload_libraries/.test(message) ? 'pg_stat_statements not loaded' : `pg_stat_statements: ${message}`;
      return new StatementMeter(null, db.oid, reason);
    }
  }

  /** Forgets the bench database's statements so far (other databases' are left alone). */
  async reset(): Promise<void> {
    await this.pool?.query(`SELECT pg_stat_statements_reset(0::oid, $1::oid, 0::bigint)`, [this.dbid]);
  }

  /** The statements since the last reset, per delivery. Its own queries (on pg_stat_statements) are left out. */
  async read(deliveries: number, topN = 8): Promise<StatementReport> {
    if (!this.pool) return { unavailable: this.unavailable ?? 'n/a' };
    const { rows } = await this.pool.query(
      `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls::bigint AS calls, total_exec_time AS ms, wal_bytes::bigint AS wal
         FROM pg_stat_statements
        WHERE dbid = $1 AND query NOT ILIKE '%pg_stat_statements%'
        ORDER BY calls DESC`,
      [this.dbid],
    );
    const per = (n: number, digits: number) => (deliveries > 0 ? Math.round((n / deliveries) * 10 ** digits) / 10 ** digits : null);
    const calls = rows.reduce((n, r) => n + Number(r.calls), 0);
    return {
      deliveries,
      callsPerDelivery: per(calls, 2),
      execMsPerDelivery: per(
        rows.reduce((n, r) => n + Number(r.ms), 0),
        3,
      ),
      walBytesPerDelivery: per(
        rows.reduce((n, r) => n + Number(r.wal), 0),
        0,
      ),
      calls,
      top: rows.slice(0, topN).map((r) => ({
        query: String(r.query).slice(0, 60),
        calls: Number(r.calls),
        perDelivery: per(Number(r.calls), 3),
        meanMs: Math.round((Number(r.ms) / Math.max(1, Number(r.calls))) * 1000) / 1000,
      })),
    };
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}
