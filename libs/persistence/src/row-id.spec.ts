import { testDatabase } from '../../../test/support/database';
import { newRowId } from './row-id';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newRowId', () => {
  it('is a version 7 UUID whose first 48 bits are the Unix milliseconds it was made at', () => {
    const at = Date.parse('2026-12-01T18:30:00.123Z');
    const id = newRowId(at);
    expect(id).toMatch(V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    expect(newRowId()).toMatch(V7);
  });

  it('is unique: the bits after the time are random', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 20_000 }, () => newRowId(at)));
    expect(ids.size).toBe(20_000);
  });

  describe('in Postgres', () => {
    let db: Awaited<ReturnType<typeof testDatabase>>;
    beforeAll(async () => {
      db = await testDatabase(__filename);
      await db.ds.query(`CREATE TABLE row_id_probe (id uuid PRIMARY KEY, made int NOT NULL)`);
    });
    afterAll(() => db.drop());

    it('is a uuid that sorts in the order the ids were made, a millisecond apart or more', async () => {
      const start = Date.parse('2026-12-01T00:00:00Z');
      // Made out of order, a millisecond to a day apart.
      const offsets = [86_400_000, 1, 0, 5_000, 2, 60_000, 3];
      const ids = offsets.map((ms) => newRowId(start + ms));
      await db.ds.query(`INSERT INTO row_id_probe (id, made) SELECT * FROM unnest($1::uuid[], $2::int[])`, [ids, offsets]);
      const rows: Array<{ id: string; made: number }> = await db.ds.query(`SELECT id, made FROM row_id_probe ORDER BY id`);
      expect(rows.map((r) => r.made)).toEqual([...offsets].sort((a, b) => a - b));
      expect(rows.map((r) => r.id)).toEqual([...ids].sort());
    });
  });
});
