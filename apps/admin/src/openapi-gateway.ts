import type { OpenAPIObject } from '@nestjs/swagger';
import { zodToJsonSchema } from 'zod-to-json-schema';
import {
  CLOUDEVENTS_CONTENT_TYPE,
  CLOUDEVENTS_SOURCE,
  EVENT_DATA_SCHEMAS,
  KNOWN_EVENT_NAMES,
  KnownEventName,
  cloudEventTypeOf,
  envelopeSchema,
} from '@switchyard/contracts';

/**
 * The parts of Switchyard's HTTP surface that the admin app does not serve but integrators need in the
 * same document: ingress's `POST /webhooks/nimbus` (with the ingress server, since it is another host and
 * port), and what every subscriber receives (a callback of `POST /api/external/webhook`: the body in the
 * CloudEvents or the nimbus format, and the Standard Webhooks signing headers).
 * The event schemas are generated from the zod schemas ingress validates with (libs/contracts).
 */

type Components = NonNullable<OpenAPIObject['components']>;
type SchemaObject = Exclude<NonNullable<Components['schemas']>[string], { $ref: string }>;
type ResponseObject = Exclude<NonNullable<Components['responses']>[string], { $ref: string }>;
type ParameterObject = Exclude<NonNullable<Components['parameters']>[string], { $ref: string }>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** `shipment:created` → `ShipmentCreated`. */
const schemaName = (event: KnownEventName) =>
  event
    .split(/[:_]/)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

function fromZod(schema: Parameters<typeof zodToJsonSchema>[0]): SchemaObject {
  const { $schema: _ignored, ...json } = zodToJsonSchema(schema, { target: 'openApi3', $refStrategy: 'none', applyRegexFlags: true }) as Record<string, unknown>;
  return json as SchemaObject;
}

function schemas(): Record<string, SchemaObject> {
  const out: Record<string, SchemaObject> = {};
  const envelope = fromZod(envelopeSchema);
  for (const event of KNOWN_EVENT_NAMES) {
    const name = schemaName(event);
    out[`${name}Data`] = { ...fromZod(EVENT_DATA_SCHEMAS[event]), description: `\`event_data\` of \`${event}\`, checked field by field.` };
    out[`${name}Event`] = {
      type: 'object',
      description: `A \`${event}\` event as Nimbus OS sends it.`,
      required: ['event_name', 'event_data'],
      properties: { event_name: { type: 'string', enum: [event] }, event_data: ref(`${name}Data`) },
      additionalProperties: true,
    };
  }
  out.OtherNimbusEvent = {
    ...envelope,
    description:
      'An event name Switchyard does not know: accepted (the envelope is checked) and forwarded only to subscribers of all events (`*`).',
  };
  out.NimbusEvent = {
    description: 'The body Nimbus OS posts: `{event_name, event_data}`. Subscribers with format `nimbus` receive exactly these bytes.',
    anyOf: [...KNOWN_EVENT_NAMES.map((e) => ref(`${schemaName(e)}Event`)), ref('OtherNimbusEvent')],
  };
  out.EventAccepted = {
    type: 'object',
    required: ['received', 'event_id'],
    properties: {
      received: { type: 'boolean', enum: [true] },
      event_id: { type: 'string', format: 'uuid', description: 'The event id: `webhook-id` of every delivery of this event.' },
      duplicate: {
        type: 'boolean',
        enum: [true],
        description: 'Present when the event was received before (same idempotency key): nothing was published again.',
      },
    },
  };
  out.GatewayError = {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', example: 'invalid_event' },
          message: { type: 'string', example: 'event_data.shipment_id: must not be empty' },
          details: { description: 'Every problem found, for invalid events.' },
          error_id: { type: 'string', description: 'On a 5xx: the id of the logged error.' },
        },
      },
    },
  };
  out.CloudEvent = {
    type: 'object',
    description: 'A CloudEvents 1.0 event in structured JSON mode: what subscribers with format `cloudevents` (the default) receive.',
    required: ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'clinicid', 'data'],
    properties: {
      specversion: { type: 'string', enum: ['1.0'] },
      id: { type: 'string', format: 'uuid', description: 'The event id (also `webhook-id`).' },
      source: { type: 'string', enum: [CLOUDEVENTS_SOURCE] },
      type: {
        type: 'string',
        description: '`com.nimbus-os.` and the event name with `.` for `:`.',
        example: cloudEventTypeOf('shipment:created'),
      },
      subject: { type: 'string', description: 'The entity id: shipment_id or medication_order_id.' },
      time: { type: 'string', format: 'date-time', description: 'When ingress received the event.' },
      datacontenttype: { type: 'string', enum: ['application/json'] },
      clinicid: { type: 'string', format: 'uuid', description: 'The clinic the event belongs to (extension attribute).' },
      data: {
        description: "The event's `event_data`, as validated.",
        anyOf: [...KNOWN_EVENT_NAMES.map((e) => ref(`${schemaName(e)}Data`)), { type: 'object', additionalProperties: true }],
      },
    },
  };
  return out;
}

const errorResponse = (description: string, headers?: ResponseObject['headers']): ResponseObject => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: ref('GatewayError') } },
});
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before sending again.', schema: { type: 'integer' } } } as const;

function ingressPath() {
  return {
    servers: [
      {
        url: '{scheme}://{host}',
        description: 'ingress: the URL each clinic gives Nimbus OS (INGRESS_PORT, 8080 on a local `npm start`)',
        variables: { scheme: { default: 'http', enum: ['http', 'https'] }, host: { default: 'localhost:8080' } },
      },
    ],
    post: {
      tags: ['ingress'],
      operationId: 'receiveNimbusEvent',
      summary: 'Receive a Nimbus OS event',
      description:
        'Authenticates the clinic by its `X-API-Key`, validates the event, drops a duplicate (same idempotency key) and ' +
        'answers 200 only once the event is stored in JetStream. Every 409, 429 and 503 asks the sender to retry; ' +
        'Nimbus OS does so on its own schedule (1m, 5m, 15m, 1h).',
      security: [{ 'clinic-key': [] }],
      requestBody: {
        required: true,
        description: 'JSON (`application/json` or `application/*+json`), at most INGRESS_BODY_LIMIT (256 KiB).',
        content: { 'application/json': { schema: ref('NimbusEvent') } },
      },
      responses: {
        200: {
          description: 'Stored (or stored before: `duplicate: true`).',
          content: { 'application/json': { schema: ref('EventAccepted') } },
        },
        400: errorResponse('Not JSON, not UTF-8, a bad envelope or an invalid field of a known event (`error.details` lists them).'),
        401: errorResponse('Missing or invalid `X-API-Key`, or a disabled clinic.'),
        408: errorResponse('The request did not arrive completely within INGRESS_REQUEST_TIMEOUT.'),
        409: errorResponse('The same event is being stored by another request right now: retry shortly.', retryAfter),
        413: errorResponse('The body is larger than INGRESS_BODY_LIMIT.'),
        415: errorResponse('The body is not JSON (Content-Type).'),
        429: errorResponse("Over the clinic's INGRESS_RATE_LIMIT.", retryAfter),
        503: errorResponse('The key store, the idempotency service or JetStream cannot be reached: nothing was stored; retry.', retryAfter),
      },
    },
  };
}

const header = (name: string, required: boolean, description: string, example?: string): ParameterObject => ({
  name,
  in: 'header',
  required,
  description,
  schema: { type: 'string', ...(example ? { example } : {}) },
});

/** What Switchyard sends to a registered `webhook_url`: a callback of the registration. */
function deliveryCallback() {
  return {
    delivery: {
      '{$request.body#/webhook_url}': {
        post: {
          operationId: 'deliverEvent',
          summary: 'An event delivered to a subscriber',
          description:
            'One POST per event and subscriber, in the subscriber\'s `format`. Verify `webhook-signature` (Standard Webhooks): ' +
            'HMAC-SHA256 with the base64 key of the `whsec_` secret over `{webhook-id}.{webhook-timestamp}.{body}`, and reject old ' +
            'timestamps. A 2xx answer within DELIVERY_TIMEOUT is success; anything else is retried on RETRY_SCHEDULE ' +
            '(1m, 5m, 15m, 1h) and then dead-lettered (replayable). Redirects are never followed.',
          security: [],
          parameters: [
            header('webhook-id', true, 'The event id: the same on every retry and replay of this event, so a receiver can drop repeats.'),
            header('webhook-timestamp', true, 'Unix seconds when this attempt was signed.', '1737000000'),
            header(
              'webhook-signature',
              true,
              '`v1,<base64 HMAC-SHA256>`, space-separated, one per secret in use (two during a secret rotation overlap).',
              'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
            ),
            header('X-API-Key', false, 'The key the subscriber registered (`api_key`), for handlers written from the Nimbus guide.'),
            header('traceparent', false, 'W3C trace context of the event, when tracing is on.'),
          ],
          requestBody: {
            required: true,
            content: {
              [CLOUDEVENTS_CONTENT_TYPE]: { schema: ref('CloudEvent') },
              'application/json': { schema: ref('NimbusEvent') },
            },
          },
          responses: {
            '2XX': { description: 'Delivered: no further attempt.' },
            410: { description: 'Gone: the subscriber is disabled and its waiting deliveries are parked (no retry).' },
            429: { description: 'Retried, not before the `Retry-After` it sends (also for 503).' },
            default: { description: 'Any other answer, a timeout or a connection error: retried on RETRY_SCHEDULE, then dead-lettered.' },
          },
        },
      },
    },
  };
}

/** Adds the ingress route, the delivery callback and their schemas to the admin API's document. */
export function addGatewayDescription(document: OpenAPIObject): OpenAPIObject {
  const registration = document.paths['/api/external/webhook']?.post;
  if (!registration) throw new Error('OpenAPI: POST /api/external/webhook is missing; the delivery callback hangs on it');
  registration.callbacks = { ...registration.callbacks, ...deliveryCallback() } as never;
  document.paths = { '/webhooks/nimbus': ingressPath() as never, ...document.paths };
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...schemas() } };
  document.tags = [
    { name: 'ingress', description: 'Where Nimbus OS sends events (the ingress app, another host and port).' },
    ...(document.tags ?? []),
  ];
  return document;
}
