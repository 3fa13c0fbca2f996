import { randomUUID } from 'node:crypto';

/** A UUID as Postgres's `uuid` type takes it and answers it back: 8-4-4-4-12 hex digits, either case. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A new row id as a time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds, then random bits.
 * Rows written at about the same time get ids next to each other, so an index on the id grows at its right
 * edge, in pages already in memory, instead of at a random leaf of the whole index: a random (v4) id dirties
 * a different page for each row, and once the index outgrows the buffer cache each insert reads a page in,
 * writes one out and, after every checkpoint, logs the whole page (bench/RESULTS.md, fifteenth round).
 * Not for ids that must be derived (an event's id comes from its idempotency key).
 */
export function newRowId(now = Date.now()): string {
  // randomUUID draws from Node's pooled random bytes; its first 13 hex digits (the 4 is its version) give way to the time.
  const random = randomUUID();
  const ms = now.toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${random.slice(15)}`;
}
