import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `idempotency_claims` without write-ahead log. The event id is derived from the idempotency key, the stream
 * drops a repeated `Nats-Msg-Id` within its duplicate window and fan-out stores an event id once, so a resend
 * that finds no claim is mostly harmless: what the log bought was that claims survive crash recovery (a clean
 * restart keeps an unlogged table; a crash, a restored backup or a promoted standby empty it). After one, a
 * resend past the stream's window may be delivered again with the same `webhook-id` (docs/DESIGN.md says
 * exactly when), against a WAL record and a synchronous flush saved on every claim and completion, the most
 * frequent commits the gateway makes (bench/RESULTS.md, eighth round).
 *
 * The change rewrites the table under an exclusive lock: on an upgrade, claims wait for as long as it takes to
 * copy a day's claims (`DEDUPE_TTL`; 1,000,000 claims took 3.3 s on a 2-core test machine), and ingress
 * answers 503 with `Retry-After` to those that wait longer than `DEDUPE_TIMEOUT`; Nimbus sends them again.
 */
export class UnloggedClaims1764450000000 implements MigrationInterface {
  name = 'UnloggedClaims1764450000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_claims SET UNLOGGED`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_claims SET LOGGED`);
  }
}
