import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface DatabaseOptions {
  url: string;
  schema: string;
  poolSize: number;
  applicationName: string;
  /** Settings every connection of the pool starts with (`-c name=value`), beside its `search_path`. */
  sessionSettings?: Record<string, string>;
}

/**
 * One TypeORM data source per process. The schema is applied through `search_path`, so migrations and raw
 * queries use unqualified table names and each test file can run in a schema of its own.
 */
export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'switchyard_migrations',
    synchronize: false,
    logging: false,
    extra: {
      max: options.poolSize,
      application_name: options.applicationName,
      options: [`-c search_path=${options.schema}`, ...Object.entries(options.sessionSettings ?? {}).map(([k, v]) => `-c ${k}=${v}`)].join(' '),
      connectionTimeoutMillis: 5_000,
    },
  });
}

/** Creates the schema when missing and runs pending migrations; safe to run from several processes. */
export async function runMigrations(options: DatabaseOptions): Promise<string[]> {
  const ds = createDataSource({ ...options, poolSize: 1 });
  await ds.initialize();
  try {
    await ds.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    // One migrator per schema at a time across processes (Helm hook, compose, npm start): an advisory lock,
    // polled rather than waited for. A waiting `pg_advisory_lock` statement holds a snapshot, and a migration
    // that builds an index CONCURRENTLY waits for every older snapshot: the two would deadlock.
    const lockKey = `switchyard_migrations:${options.schema}`;
    while (!(await ds.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [lockKey]))[0].locked) {
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      const ran = await ds.runMigrations({ transaction: 'each' });
      return ran.map((m) => m.name);
    } finally {
      await ds.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lockKey]);
    }
  } finally {
    await ds.destroy();
  }
}

/** Readiness: whether Postgres answers a trivial query now. */
export function postgresAnswers(ds: DataSource): Promise<boolean> {
  return ds.query('SELECT 1').then(
    () => true,
    () => false,
  );
}
