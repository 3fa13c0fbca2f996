import { entityIdOf } from '../events/nimbus-event';

/** A CloudEvents 1.0 structured-mode JSON event, as delivered to subscribers with format `cloudevents`. */
export interface CloudEventV1 {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  clinicid: string;
  data: Record<string, unknown>;
}

export const CLOUDEVENTS_SOURCE = 'https://api.nimbus-os.com';
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** `shipment:created` → `com.nimbus-os.shipment.created`. */
export function cloudEventTypeOf(eventName: string): string {
  return `com.nimbus-os.${eventName.replace(/:/g, '.').toLowerCase()}`;
}

export function toCloudEvent(input: {
  eventId: string;
  clinicId: string;
  eventName: string;
  receivedAt: string;
  data: Record<string, unknown>;
}): CloudEventV1 {
  const subject = entityIdOf({ eventName: input.eventName, data: input.data });
  return {
    specversion: '1.0',
    id: input.eventId,
    source: CLOUDEVENTS_SOURCE,
    type: cloudEventTypeOf(input.eventName),
    ...(subject ? { subject } : {}),
    time: input.receivedAt,
    datacontenttype: 'application/json',
    clinicid: input.clinicId,
    data: input.data,
  };
}

export type SubscriberFormat = 'cloudevents' | 'nimbus';
export const SUBSCRIBER_FORMATS: readonly SubscriberFormat[] = ['cloudevents', 'nimbus'];

/** A Nimbus payload's `event_data` (`{}` when it has none); throws when the payload is not JSON. */
export function eventDataOf(payload: string): Record<string, unknown> {
  return ((JSON.parse(payload) as { event_data?: Record<string, unknown> }).event_data ?? {}) as Record<string, unknown>;
}

/**
 * The body a subscriber receives, with its content type. `input.data` is the payload's `event_data` when
 * the caller has parsed it already (the payload is then not parsed again).
 */
export function renderForSubscriber(
  format: SubscriberFormat,
  input: { eventId: string; clinicId: string; eventName: string; receivedAt: string; payload: string; data?: Record<string, unknown> },
): { contentType: string; payload: string } {
  if (format === 'nimbus') return { contentType: 'application/json', payload: input.payload };
  const data = input.data ?? eventDataOf(input.payload);
  return { contentType: CLOUDEVENTS_CONTENT_TYPE, payload: JSON.stringify(toCloudEvent({ ...input, data })) };
}
