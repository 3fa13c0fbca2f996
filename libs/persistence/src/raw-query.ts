import type { Pool, QueryResult } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * `ds.query(sql, params)` on the same pool (same connections, `search_path`, `application_name`) without the
 * QueryRunner and EntityManager TypeORM builds for every call, and with the same answer: the rows, or
 * `[rows, rowCount]` for UPDATE and DELETE. For the statements that run per event. At 500 claims/s those
 * per-call objects outlived two scavenges (~0.3–0.4 MB promoted per scavenge, against ~0 for the bare pool),
 * so the dedupe service ran a full GC every ~5 s, and each 10–16 ms stall was what set the ingress p99
 * (bench/RESULTS.md, fourth round). With a `name`, the statement is prepared on each connection the first time
 * it runs there and executed by name after that (no parse, and Postgres's generic plan once it finds it as
 * good as a custom one): only for statements whose generic plan is fine, as checked in bench/RESULTS.md.
 */
export async function rawQuery(ds: DataSource, sql: string, params?: unknown[], name?: string): Promise<any> {
  const pool = (ds.driver as PostgresDriver).master as Pool;
  const res: QueryResult = name ? await pool.query({ name, text: sql, values: params }) : await pool.query(sql, params);
  return res.command === 'UPDATE' || res.command === 'DELETE' ? [res.rows, res.rowCount] : res.rows;
}
