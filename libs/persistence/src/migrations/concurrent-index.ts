import { QueryRunner } from 'typeorm';

/**
 * Builds the index `name` ON `definition` CONCURRENTLY, so an upgrade blocks no writer (fan-out's inserts, the
 * admin API) while a large table is indexed. Its migration runs outside a transaction (`transaction = false`),
 * which CONCURRENTLY needs. An index an interrupted or failed build left invalid is dropped first and built
 * again; one already built is left as it is.
 */
export async function createIndexConcurrently(q: QueryRunner, name: string, definition: string, kind: 'INDEX' | 'UNIQUE INDEX' = 'INDEX'): Promise<void> {
  const invalid = await q.query(
    `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
    [name],
  );
  if (invalid.length > 0) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  await q.query(`CREATE ${kind} CONCURRENTLY IF NOT EXISTS ${name} ON ${definition}`);
}
