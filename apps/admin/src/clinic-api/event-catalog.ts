import { zodToJsonSchema } from 'zod-to-json-schema';
import { z } from 'zod';
import { EVENT_DATA_SCHEMAS, EVENT_EXAMPLES, KNOWN_EVENT_NAMES, KnownEventName, envelopeSchema } from '@switchyard/contracts';

/** What each known event means to a clinic (the schema and the example come from libs/contracts). */
const DESCRIPTIONS: Record<KnownEventName, string> = {
  'shipment:created': 'A shipment of one or more medication orders was created (tracking, carrier and delivery address when known).',
  'shipment:cancelled': 'A shipment was cancelled, with the reason and time when given.',
  'medication:updated': 'A medication order changed status (validated, submitted, filled, shipped, delivered or cancelled).',
};

export interface EventTypeView {
  name: KnownEventName;
  description: string;
  /** JSON Schema (draft 7) of the whole body as Nimbus sends it (and as `format: nimbus` subscribers get it). */
  schema: Record<string, unknown>;
  /** The Nimbus guide's example body. */
  example: { event_name: string; event_data: Record<string, unknown> };
}

function schemaOf(name: KnownEventName): Record<string, unknown> {
  const body = envelopeSchema.extend({ event_name: z.literal(name), event_data: EVENT_DATA_SCHEMAS[name] });
  return zodToJsonSchema(body, { target: 'jsonSchema7', $refStrategy: 'none' }) as Record<string, unknown>;
}

/**
 * The catalog of event types a webhook may subscribe to, derived from the validation schemas ingress
 * applies (so it cannot drift from them) and the guide's examples. Built once.
 */
export const EVENT_CATALOG: readonly EventTypeView[] = KNOWN_EVENT_NAMES.map((name) => ({
  name,
  description: DESCRIPTIONS[name],
  schema: schemaOf(name),
  example: EVENT_EXAMPLES[name],
}));
