import { createHash } from 'node:crypto';
import { canonicalJsonOfText, canonicalObject } from './canonical-json-text';
import { NimbusEvent, entityIdOf } from './nimbus-event';

/**
 * Canonical JSON: object keys sorted recursively, so that two bodies that differ only in key order or
 * white space hash the same.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  return canonicalObject(
    Object.keys(record).filter((k) => record[k] !== undefined),
    (k) => canonicalJson(record[k]),
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The fields that tell two events about the same entity apart. The guide suggests shipment_id or
 * medication_order_id alone, which would merge the successive status changes of one medication order
 * into a single event; the discriminators keep them distinct.
 */
function discriminatorsOf(event: NimbusEvent): unknown[] | undefined {
  const d = event.data;
  switch (event.eventName) {
    case 'shipment:created':
      return [d.shipment_id];
    case 'shipment:cancelled':
      return [d.shipment_id, d.cancelled_at ?? null];
    case 'medication:updated':
      return [d.medication_order_id, d.status, d.updated_at ?? null];
    default:
      return undefined;
  }
}

/**
 * Whether a parsed body holds a number of 2^53 or more in magnitude. Every integer JSON.parse rounded came
 * out so, and a body without one is keyed from its parsed value as it always was, at the cost of this walk
 * (about 0.1 µs for a small body, beside 4 µs for its canonical JSON). Unlike a look at the bytes for long
 * digit runs, it does not send bodies with long digit strings (tracking numbers) the slow way.
 */
function holdsNumberBeyondSafe(value: unknown): boolean {
  if (typeof value === 'number') return Math.abs(value) > Number.MAX_SAFE_INTEGER;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsNumberBeyondSafe(value[i])) return true;
    return false;
  }
  for (const k in value) if (holdsNumberBeyondSafe((value as Record<string, unknown>)[k])) return true;
  return false;
}

/**
 * The idempotency key of an event: clinic, event name, entity id and the event's own discriminators;
 * a hash of the canonical body for unknown events (and for known ones whose discriminators are absent,
 * e.g. a medication:updated without updated_at still has status). Returned hashed, so it is fixed-size
 * and carries no patient data.
 *
 * `rawBody`, the bytes `event.body` was parsed from, is what the body's key is read from when JSON.parse
 * may have rounded an integer in it: the bytes are what is forwarded, and two events that differ only in
 * such an integer would otherwise share a key, the second answered as a duplicate and never published.
 * The discriminators are strings (the validators want them so), so they never need it.
 */
export function idempotencyKeyOf(clinicId: string, event: NimbusEvent, rawBody?: Uint8Array): string {
  const discriminators = discriminatorsOf(event);
  if (discriminators && entityIdOf(event)) return sha256(canonicalJson(['v1', clinicId, event.eventName, ...discriminators]));
  if (rawBody && holdsNumberBeyondSafe(event.body)) {
    // canonicalJson of the same array, with the body's canonical text read from its bytes.
    const head = ['v1', clinicId, event.eventName, 'body'].map((s) => JSON.stringify(s)).join(',');
    return sha256(`[${head},${canonicalJsonOfText(rawBody)}]`);
  }
  return sha256(canonicalJson(['v1', clinicId, event.eventName, 'body', event.body]));
}

/**
 * The event id is derived from the idempotency key, so a publish repeated after a lost acknowledgement
 * carries the same id (and the same `Nats-Msg-Id`), and fan-out stores it once.
 */
export function eventIdOf(idempotencyKey: string): string {
  const h = idempotencyKey.slice(0, 32);
  // Formatted as a UUID (version nibble 8: "custom", RFC 9562) so it reads like the ids around it.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
