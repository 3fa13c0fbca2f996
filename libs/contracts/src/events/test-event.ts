import { EVENT_EXAMPLES } from './examples';
import type { KnownEventName } from './nimbus-event.schema';

/**
 * The reserved name of a test event (sent from the console to one webhook, never fanned out). Its
 * CloudEvents `type` follows from it like any other (`com.nimbus-os.switchyard.test`), and its Nimbus-format
 * body names it too, so a handler written from the Nimbus guide ignores it as an unknown event and a
 * handler that wants to can recognise it by name, by `type`, or by `event_data.test`.
 */
export const TEST_EVENT_NAME = 'switchyard:test';

/**
 * The body of a test event, in the Nimbus envelope: `event_data.test` is true and says so in words; when
 * the sender picked a known event type, its guide example rides along under `example` (not as the event
 * itself, so no handler mistakes it for a real shipment or order).
 */
export function testEventBody(input: { webhookId: string; requestedAt: Date; exampleOf?: KnownEventName }): { event_name: string; event_data: Record<string, unknown> } {
  return {
    event_name: TEST_EVENT_NAME,
    event_data: {
      test: true,
      message: 'A test event sent from the Switchyard console. It is not a pharmacy event; no action is needed.',
      webhook_id: input.webhookId,
      requested_at: input.requestedAt.toISOString(),
      ...(input.exampleOf ? { example_of: input.exampleOf, example: EVENT_EXAMPLES[input.exampleOf].event_data } : {}),
    },
  };
}
