import { randomBytes, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { DataSource } from 'typeorm';
import { NewSubscriber, createDataSource, runMigrations } from '@switchyard/persistence';

/** The tests' Postgres: DATABASE_URL, or the loopback default of DESIGN.md. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const URL = TEST_DATABASE_URL;

/** A migrated schema of its own for one test file, dropped by `drop()`. */
export async function testDatabase(testFile: string): Promise<{ ds: DataSource; schema: string; drop(): Promise<void> }> {
  const schema = `t_${basename(testFile).replace(/\W+/g, '_').slice(0, 30)}_${randomBytes(3).toString('hex')}`.toLowerCase();
  await runMigrations({ url: URL, schema, poolSize: 1, applicationName: 'test' });
  const ds = await createDataSource({ url: URL, schema, poolSize: 8, applicationName: 'test' }).initialize();
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
