import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from './concurrent-index';

/**
 * The highest stream sequence stored (fan-out asks at start: a message at or below it may be stored
 * already, so it is stored before anything is attempted from it). Built CONCURRENTLY, outside a transaction,
 * like the retention indexes, so an upgrade does not block fan-out's inserts.
 */
export class EventsStreamSeqIndex1764430000000 implements MigrationInterface {
  name = 'EventsStreamSeqIndex1764430000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'events_stream_seq_idx', `events (stream_seq) WHERE stream_seq IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS events_stream_seq_idx`);
  }
}
