import type { Pool, QueryConfig, QueryResult } from 'pg';
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
 * With `timeoutMs`, a statement that has not answered by then fails (see below).
 */
export async function rawQuery(ds: DataSource, sql: string, params?: unknown[], options: { name?: string; timeoutMs?: number } = {}): Promise<any> {
  const { name, timeoutMs } = options;
  const pool = (ds.driver as PostgresDriver).master as Pool;
  // `query_timeout` (node-postgres, per query): the statement is given up after `timeoutMs` and its connection
  // dropped from the pool (the pool removes a client whose query failed), so the next statement opens a new one.
  const res: QueryResult =
    name || timeoutMs ? await pool.query({ name, text: sql, values: params, query_timeout: timeoutMs } as QueryConfig) : await pool.query(sql, params);
  return res.command === 'UPDATE' || res.command === 'DELETE' ? [res.rows, res.rowCount] : res.rows;
}

/**
 * How long a lookup by key (an API key's owner, a clinic's limits) may take before it is given up, with its
 * connection: one answers in a millisecond, and one unanswered after 3 s is on a connection to a Postgres
 * that stopped answering without closing it. Ingress then answers 503 with `Retry-After` inside the sender's
 * 5 s; before, the request waited for the kernel to give up on the socket, and so did every later request
 * that shared the same lookup (LookupCache).
 */
export const LOOKUP_TIMEOUT_MS = 3_000;

/**
 * A Postgres array literal (`{"a","b",NULL}`) of one column's values, for `unnest($n::type[])`: node-postgres
 * turns a JavaScript array into the same text, but escapes each element with two regular expressions and
 * formats dates in the local zone, which was ~3 % of fan-out's CPU in a backlog drain (the payloads are the
 * longest strings it sends). Strings are quoted with `"` and `\` escaped; numbers as they print; dates in
 * ISO 8601 UTC; null and undefined as NULL.
 */
export function pgArray(values: ReadonlyArray<string | number | Date | null | undefined>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number') out += String(v);
    else if (v instanceof Date) out += `"${v.toISOString()}"`;
    // Most values (ids, states, ISO times) have nothing to escape: looking for the two characters first is
    // a quarter of the cost of a replace that finds nothing. A payload has quotes: two string replaceAlls
    // (backslashes first) take half the time of one regular expression with a `$&` substitution.
    else out += v.includes('"') || v.includes('\\') ? `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : `"${v}"`;
  }
  return `${out}}`;
}
