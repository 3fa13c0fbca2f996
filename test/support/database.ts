import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '@switchyard/persistence';

const URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

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
