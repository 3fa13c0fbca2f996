import { Client } from 'pg';
import { pgArray } from '@switchyard/persistence';
import { TEST_DATABASE_URL } from '../support/database';

/** The array literals the store and record statements unnest: every value comes back out of Postgres as it went in. */
describe('pgArray (real Postgres)', () => {
  const pg = new Client({ connectionString: TEST_DATABASE_URL });
  beforeAll(() => pg.connect());
  afterAll(() => pg.end());

  const unnest = async (literal: string, type: string) => (await pg.query(`SELECT v FROM unnest($1::${type}[]) WITH ORDINALITY AS u(v, n) ORDER BY n`, [literal])).rows.map((r) => r.v);

  it('round-trips text that an array literal must escape, and NULL apart from the string "NULL"', async () => {
    const texts = [
      '{"event_name":"shipment:created","event_data":{"note":"a \\"quoted\\" word, a \\\\ and {braces}"}}',
      'back\\slash and "quotes"',
      '',
      'NULL',
      ' leading and trailing spaces ',
      'commas, {braces}, and\nnew\tlines',
      'ünïcödé 💊',
      null,
    ];
    expect(await unnest(pgArray(texts), 'text')).toEqual(texts);
  });

  it('writes numbers and dates as Postgres reads them', async () => {
    expect(await unnest(pgArray([0, -7, 2_147_483_647, null]), 'int')).toEqual([0, -7, 2_147_483_647, null]);
    expect(await unnest(pgArray([0.1, 1500.25, 86_400_000]), 'double precision')).toEqual([0.1, 1500.25, 86_400_000]);
    const dates = [new Date('2026-11-30T23:59:59.123Z'), new Date('1999-01-01T00:00:00.000Z')];
    expect((await unnest(pgArray(dates), 'timestamptz')).map((d: Date) => d.toISOString())).toEqual(dates.map((d) => d.toISOString()));
    expect(await unnest(pgArray([]), 'uuid')).toEqual([]);
  });
});
