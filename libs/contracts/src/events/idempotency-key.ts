import { createHash } from 'node:crypto';
import { NimbusEvent, entityIdOf } from './nimbus-event';

/**
 * Canonical JSON: object keys sorted recursively, so that two bodies that differ only in key order or
 * white space hash the same.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  return `{${keys
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    .join(',')}}`;
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
 * The idempotency key of an event: clinic, event name, entity id and the event's own discriminators;
 * a hash of the canonical body for unknown events (and for known ones whose discriminators are absent,
 * e.g. a medication:updated without updated_at still has status). Returned hashed, so it is fixed-size
 * and carries no patient data.
 */
export function idempotencyKeyOf(clinicId: string, event: NimbusEvent): string {
  const discriminators = discriminatorsOf(event);
  const material =
    discriminators && entityIdOf(event)
      ? canonicalJson(['v1', clinicId, event.eventName, ...discriminators])
      : canonicalJson(['v1', clinicId, event.eventName, 'body', event.body]);
  return sha256(material);
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
