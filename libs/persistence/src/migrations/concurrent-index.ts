import { MigrationInterface, QueryRunner } from 'typeorm';

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
  if (invalid.length > 0) await dropIndexConcurrently(q, name);
  await q.query(`CREATE ${kind} CONCURRENTLY IF NOT EXISTS ${name} ON ${definition}`);
}

/** Drops the index `name` CONCURRENTLY (outside a transaction), if it exists. */
export async function dropIndexConcurrently(q: QueryRunner, name: string): Promise<void> {
  await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
}

/** An index to build: its name and what follows `ON` (table, columns, predicate). */
export type IndexDefinition = [name: string, definition: string];

/** A migration that only adds `indexes`, each built CONCURRENTLY (so outside a transaction), and drops them when undone. */
export abstract class ConcurrentIndexesMigration implements MigrationInterface {
  abstract name: string;
  transaction = false;
  protected abstract readonly indexes: readonly IndexDefinition[];

  async up(q: QueryRunner): Promise<void> {
    for (const [name, definition] of this.indexes) await createIndexConcurrently(q, name, definition);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [name] of this.indexes) await dropIndexConcurrently(q, name);
  }
}
