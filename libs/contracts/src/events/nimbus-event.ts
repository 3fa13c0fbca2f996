import { ZodError } from 'zod';
import { EVENT_DATA_SCHEMAS, KNOWN_EVENT_NAMES, KnownEventName, envelopeSchema } from './nimbus-event.schema';

/** A Nimbus webhook body that passed validation. `body` is the original parsed JSON, forwarded unchanged. */
export interface NimbusEvent {
  eventName: string;
  known: boolean;
  data: Record<string, unknown>;
  body: Record<string, unknown>;
}

export interface ValidationProblem {
  field: string;
  message: string;
}

export type ValidationResult = { ok: true; event: NimbusEvent } | { ok: false; problems: ValidationProblem[] };

export function isKnownEventName(name: string): name is KnownEventName {
  return (KNOWN_EVENT_NAMES as readonly string[]).includes(name);
}

function problemsOf(error: ZodError, prefix: string): ValidationProblem[] {
  return error.issues.map((issue) => ({
    field: [prefix, ...issue.path].filter((p) => p !== '').join('.'),
    message: issue.message,
  }));
}

/**
 * Validates a parsed body: the envelope always, the event data field by field for the known events.
 * An unknown `event_name` is accepted (it is forwarded only to subscribers of `*`).
 */
export function validateNimbusEvent(body: unknown): ValidationResult {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, problems: [{ field: '(body)', message: 'must be a JSON object with event_name and event_data' }] };
  }
  if (nestedDeeperThan(body, MAX_JSON_DEPTH)) {
    return { ok: false, problems: [{ field: '(body)', message: `must not be nested deeper than ${MAX_JSON_DEPTH} levels` }] };
  }
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) return { ok: false, problems: problemsOf(envelope.error, '') };

  const { event_name: eventName, event_data: data } = envelope.data;
  if (!isKnownEventName(eventName)) {
    return { ok: true, event: { eventName, known: false, data, body: body as Record<string, unknown> } };
  }
  const parsed = EVENT_DATA_SCHEMAS[eventName].safeParse(data);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error, 'event_data') };
  return { ok: true, event: { eventName, known: true, data, body: body as Record<string, unknown> } };
}

/**
 * How deep a body may nest. Real Nimbus events nest 3 levels; the idempotency key's canonical JSON and the
 * schema checks recurse, so a body nested thousands deep would otherwise overflow the stack (a 500).
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects/arrays deeper than `max` levels (iterative: no recursion on hostile input). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** The id of the entity an event is about, used as CloudEvents `subject` and for ordering. */
export function entityIdOf(event: Pick<NimbusEvent, 'eventName' | 'data'>): string | undefined {
  const d = event.data;
  const candidate = d.shipment_id ?? d.medication_order_id;
  return typeof candidate === 'string' ? candidate : undefined;
}
