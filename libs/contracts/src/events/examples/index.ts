import type { KnownEventName } from '../nimbus-event.schema';
import medicationUpdated from './medication-updated.json';
import shipmentCancelled from './shipment-cancelled.json';
import shipmentCreated from './shipment-created.json';

/**
 * The example body of each known event, as printed in the Nimbus guide. The tests use them as fixtures
 * (test/fixtures/nimbus) and the console's event type catalog shows them.
 */
export const EVENT_EXAMPLES = {
  'shipment:created': shipmentCreated,
  'shipment:cancelled': shipmentCancelled,
  'medication:updated': medicationUpdated,
} as const satisfies Record<KnownEventName, { event_name: string; event_data: Record<string, unknown> }>;
