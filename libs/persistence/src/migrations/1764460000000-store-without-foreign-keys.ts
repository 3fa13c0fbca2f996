import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The rows fan-out writes for every event — deliveries and their attempts — without foreign keys. Each key
 * was a trigger per inserted row that looked its parent up and locked it (`FOR KEY SHARE`): three per
 * delivery, a fifth of the store statement's execution, and every delivery locked its subscriber's row, a
 * row that every concurrent store locks too (bench/RESULTS.md, nineteenth round). What the keys guarded
 * holds by construction:
 *
 * - a delivery is inserted only in the statement that inserts its event (joined to it), and an attempt only
 *   joined to its delivery (`storeInbound`, `writeAttemptRows`), never for an id that is not there;
 * - nothing deletes an event that has a delivery, nor a subscriber that has one: retention deletes a
 *   delivery's attempts in the statement that deletes it, and then the events and (soft-deleted, past
 *   retention) subscribers left without deliveries (`RetentionRepository`); clinics are never deleted.
 *
 * Deleting an event, a delivery or a subscriber by hand no longer takes its children along.
 */
export class StoreWithoutForeignKeys1764460000000 implements MigrationInterface {
  name = 'StoreWithoutForeignKeys1764460000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_delivery_id_fkey`);
    await q.query(`ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_event_id_fkey, DROP CONSTRAINT IF EXISTS deliveries_subscriber_id_fkey`);
  }

  /** Back with `NOT VALID`: rows written meanwhile are not checked (an orphan would fail a later VALIDATE). */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id) ON DELETE CASCADE NOT VALID`);
    await q.query(
      `ALTER TABLE deliveries ADD CONSTRAINT deliveries_subscriber_id_fkey FOREIGN KEY (subscriber_id) REFERENCES subscribers(id) ON DELETE CASCADE NOT VALID`,
    );
    await q.query(
      `ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries(id) ON DELETE CASCADE NOT VALID`,
    );
  }
}
