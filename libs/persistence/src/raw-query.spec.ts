import { randomUUID } from 'node:crypto';
import { testDatabase } from '../../../test/support/database';
import { rawQuery } from './raw-query';

/** rawQuery answers exactly what `DataSource.query` answers, in the data source's schema, for each kind of statement. */
describe('rawQuery', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  beforeAll(async () => {
    db = await testDatabase(__filename);
    await db.ds.query(`CREATE TABLE raw_query_probe (id uuid PRIMARY KEY, n int NOT NULL)`);
  });
  afterAll(() => db.drop());

  const both = async (sql: string, params: (id: string) => unknown[]) => {
    const [a, b] = [randomUUID(), randomUUID()];
    await db.ds.query(`INSERT INTO raw_query_probe (id, n) VALUES ($1, 1), ($2, 1)`, [a, b]);
    return { typeorm: await db.ds.query(sql, params(a)), raw: await rawQuery(db.ds, sql, params(b)) };
  };

  it.each([
    ['SELECT', `SELECT n, current_schema() AS schema FROM raw_query_probe WHERE id = $1`],
    ['INSERT … RETURNING', `INSERT INTO raw_query_probe (id, n) SELECT gen_random_uuid(), n + 1 FROM raw_query_probe WHERE id = $1 RETURNING n`],
    ['INSERT', `INSERT INTO raw_query_probe (id, n) SELECT gen_random_uuid(), n FROM raw_query_probe WHERE id = $1`],
    ['UPDATE', `UPDATE raw_query_probe SET n = n + 1 WHERE id = $1`],
    ['UPDATE … RETURNING', `UPDATE raw_query_probe SET n = n + 1 WHERE id = $1 RETURNING n`],
    ['DELETE', `DELETE FROM raw_query_probe WHERE id = $1`],
    ['DELETE of nothing', `DELETE FROM raw_query_probe WHERE id = $1 AND n < 0`],
  ])('%s', async (_kind, sql) => {
    const { typeorm, raw } = await both(sql, (id) => [id]);
    expect(raw).toEqual(typeorm);
  });

  it('runs in the data source schema and fails as the driver does', async () => {
    expect(await rawQuery(db.ds, `SELECT current_schema() AS s`)).toEqual([{ s: db.schema }]);
    await expect(rawQuery(db.ds, `SELECT * FROM no_such_table`)).rejects.toThrow(/no_such_table/);
  });
});
