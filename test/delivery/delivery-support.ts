import { randomUUID } from 'node:crypto';
import { DELIVERIES_DUE_CHANNEL } from '@switchyard/persistence';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestReceiver } from '../support/receiver';
import { StackOptions, TestStack, eventually } from '../support/stack';

/** A valid shipment:created body about one shipment (distinct ids are distinct events). */
export function shipment(shipmentId: string, status = 'pending') {
  const body = clone(nimbusFixtures['shipment:created']) as any;
  body.event_data.shipment_id = shipmentId;
  body.event_data.shipment_status = status;
  return body;
}

/** Sends one shipment:created through ingress and fails the test unless it is accepted. */
export async function sendShipment(stack: TestStack, apiKey: string, shipmentId: string, status?: string): Promise<string> {
  const res = await stack.send(apiKey, shipment(shipmentId, status));
  if (res.status !== 200) throw new Error(`ingress answered ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.event_id;
}

/** Inserts `n` events with one pending delivery each, due now, straight into the test's schema, and announces them to fan-out. */
export async function insertDueBacklog(stack: TestStack, clinicId: string, subscriberId: string, n: number): Promise<void> {
  const ids = Array.from({ length: n }, () => randomUUID());
  const payload = JSON.stringify(shipment('backlog'));
  await stack.db.query(
    `INSERT INTO events (id, clinic_id, event_name, entity_id, payload, received_at)
     SELECT id, $2, 'shipment:created', id::text, $3, now() FROM unnest($1::uuid[]) AS id`,
    [ids, clinicId, payload],
  );
  await stack.db.query(
    `INSERT INTO deliveries (id, event_id, clinic_id, subscriber_id, event_name, status, next_attempt_at)
     SELECT gen_random_uuid(), id, $2, $3, 'shipment:created', 'pending', now() FROM unnest($1::uuid[]) AS id`,
    [ids, clinicId, subscriberId],
  );
  await stack.db.query(`SELECT pg_notify($1, $2)`, [DELIVERIES_DUE_CHANNEL, `${stack.config.DATABASE_SCHEMA}:test`]);
}

/** Offsets of each request from the first one, in ms. */
export const offsets = (at: number[]) => at.map((t) => t - at[0]);

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The deliveries of one subscriber (newest first), as the admin API lists them. */
export async function deliveriesOf(stack: TestStack, subscriberId: string): Promise<any[]> {
  const res = await stack.admin('GET', `/admin/deliveries?webhook_id=${subscriberId}&limit=500`);
  if (res.status !== 200) throw new Error(`list deliveries: ${res.status}`);
  return res.body.items;
}

/** Waits until the subscriber has `n` deliveries, all in `status`; returns them. */
export async function waitForDeliveries(stack: TestStack, subscriberId: string, status: string, n = 1, timeoutMs = 10_000): Promise<any[]> {
  let seen: any[] = [];
  try {
    return (await eventually<any[] | null>(
      async () => {
        const items = (seen = await deliveriesOf(stack, subscriberId));
        return items.length === n && items.every((d) => d.status === status) ? items : null;
      },
      timeoutMs,
      `${n} ${status} deliveries`,
    )) as any[];
  } catch (err) {
    // Say what was there instead (a delivery dead-lettered, or still pending after its attempts), and its attempts.
    const found = await Promise.all(
      seen.map(async (d) => ({ status: d.status, attempts: (await attemptsOf(stack, d.id).catch(() => [])).map((a) => `${a.outcome}${a.status_code ? ` ${a.status_code}` : ''} ${a.duration_ms} ms`) })),
    );
    throw new Error(`${(err as Error).message}; found ${JSON.stringify(found)}`);
  }
}

/** The attempts recorded for one delivery. */
export async function attemptsOf(stack: TestStack, deliveryId: string): Promise<any[]> {
  return (await stack.admin('GET', `/admin/deliveries/${deliveryId}`)).body.attempts;
}

let updates = 0;
/** Sends one medication:updated about `orderId` with a new status (each call is a distinct event). */
export async function sendStatusChange(stack: TestStack, apiKey: string, orderId: string, status: string): Promise<void> {
  const body = clone(nimbusFixtures['medication:updated']) as any;
  body.event_data.medication_order_id = orderId;
  body.event_data.status = status;
  body.event_data.updated_at = new Date(Date.UTC(2024, 0, 15) + ++updates * 1000).toISOString();
  const res = await stack.send(apiKey, body);
  if (res.status !== 200) throw new Error(`ingress answered ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * One stack for the spec file (started before its tests, stopped after) with the given scaled settings.
 * `receivers` are started with it and stopped after it; receivers pushed into the array later are stopped too.
 */
export function useStack(testFile: string, env: Record<string, string>, receivers: TestReceiver[] = [], options: StackOptions = {}): { stack: TestStack } {
  const ctx = {} as { stack: TestStack };
  beforeAll(async () => {
    ctx.stack = await TestStack.start(testFile, env, undefined, options);
    await Promise.all(receivers.map((r) => r.start()));
  });
  afterAll(async () => {
    await ctx.stack?.stop();
    await Promise.all(receivers.map((r) => r.stop()));
  });
  return ctx;
}
