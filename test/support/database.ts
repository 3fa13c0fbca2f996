import { randomBytes, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { NewSubscriber, createDataSource, runMigrations } from '@switchyard/persistence';
import { eventually } from './eventually';

/** The tests' Postgres: DATABASE_URL, or the loopback default of DESIGN.md. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const URL = TEST_DATABASE_URL;

/** A migrated schema of its own for one test file, dropped by `drop()`. */
export async function testDatabase(testFile: string): Promise<{ ds: DataSource; schema: string; drop(): Promise<void> }> {
  const schema = `t_${basename(testFile).replace(/\W+/g, '_').slice(0, 30)}_${randomBytes(3).toString('hex')}`.toLowerCase();
  await runMigrations({ url: URL, schema, poolSize: 1, applicationName: 'test' });
  // Named after its schema, so that lockWaits counts this file's statements only (files run in parallel).
  const ds = await createDataSource({ url: URL, schema, poolSize: 8, applicationName: schema }).initialize();
  return {
    ds,
    schema,
    async drop() {
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ds.destroy();
    },
  };
}

/** A subscriber as the repository creates it: the clinic's, taking `eventTypes`, every setting at its default. */
export function newSubscriber(clinicId: string, eventTypes: string[], url: string): NewSubscriber {
  return {
    id: randomUUID(),
    clinicId,
    url,
    eventTypes,
    format: 'cloudevents',
    secret: 'whsec_test',
    apiKey: null,
    timeoutMs: null,
    ordered: false,
    maxInFlight: null,
    rateLimitPerSecond: null,
  };
}

/**
 * Runs `sql` in a transaction of its own on its own connection to `schema`, and keeps it open (its row locks,
 * its uncommitted rows) until `commit()`.
 */
export async function heldTransaction(schema: string, sql: string, params: unknown[] = []): Promise<{ pid: number; commit(): Promise<void> }> {
  const c = new Client({ connectionString: URL });
  await c.connect();
  await c.query(`SET search_path TO "${schema}"`);
  const [{ pid }] = (await c.query('SELECT pg_backend_pid() AS pid')).rows;
  await c.query('BEGIN');
  await c.query(sql, params);
  return {
    pid,
    async commit() {
      await c.query('COMMIT');
      await c.end();
    },
  };
}

/** Attempts whose delivery is gone (the store's rows have no foreign keys: whoever deletes a delivery deletes its attempts). */
export async function orphanAttempts(ds: DataSource): Promise<number> {
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM delivery_attempts a WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)`);
  return n;
}

/**
 * Statements of `ds`'s own connections (its application_name) waiting for a lock, whose text matches `pattern`
 * (a Postgres regular expression). Counted across the database, another test file's waits came and went in
 * the middle of a count.
 */
export async function lockWaits(ds: DataSource, pattern: string): Promise<number> {
  const [{ n }] = await ds.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = current_setting('application_name') AND wait_event_type = 'Lock' AND query ~ $1`,
    [pattern],
  );
  return n;
}

/** Statements of any connection waiting for a lock that the backend `pid` (a heldTransaction's) holds. */
export async function waitingOn(ds: DataSource, pid: number): Promise<number> {
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]);
  return n;
}

/**
 * Two statements over the same keys, one asked for them first → last and the other last → first, while a third
 * transaction holds the middle key uncommitted (`holdMiddle`, run by heldTransaction). In the order asked, each
 * writes its first key and waits at the middle; once the third commits, each goes on to the key the other holds:
 * a deadlock. Written in one order, the second waits at the first key for the first to finish. `writing` matches
 * the two statements' text in pg_stat_activity; `run` makes one of them.
 */
export async function inOppositeOrders<T>(
  db: { ds: DataSource; schema: string },
  holdMiddle: { sql: string; params: unknown[] },
  writing: string,
  run: (order: 'ascending' | 'descending') => Promise<T>,
): Promise<[T, T]> {
  const third = await heldTransaction(db.schema, holdMiddle.sql, holdMiddle.params);
  const before = await lockWaits(db.ds, writing);
  const ascending = run('ascending');
  await eventually(async () => (await lockWaits(db.ds, writing)) >= before + 1);
  const descending = run('descending');
  await eventually(async () => (await lockWaits(db.ds, writing)) >= before + 2);
  await third.commit();
  return Promise.all([ascending, descending]);
}
