import { z } from 'zod';

/**
 * The Nimbus webhook envelope and its three known events, as printed in the Nimbus guide.
 * Strict where routing and deduplication depend on a field, liberal elsewhere: unknown extra fields are
 * kept and forwarded (`passthrough`), optional fields may be null.
 */
export const KNOWN_EVENT_NAMES = ['shipment:created', 'shipment:cancelled', 'medication:updated'] as const;
export type KnownEventName = (typeof KNOWN_EVENT_NAMES)[number];

export const MEDICATION_STATUSES = ['validated', 'submitted', 'filled', 'shipped', 'delivered', 'cancelled'] as const;

const MAX_ID_LENGTH = 200;
const id = z.string().trim().min(1, 'must not be empty').max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`);
const isoTimestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/, 'must be an ISO-8601 timestamp')
  .refine((v) => !Number.isNaN(Date.parse(v)), 'must be a valid date');
const optionalText = z.string().nullish();
const optionalTimestamp = isoTimestamp.nullish();

const shipmentBase = {
  shipment_id: id,
  medication_orders: z.array(id).min(1, 'must list at least one medication order id').max(1000),
};

export const shipmentCreatedSchema = z
  .object({
    ...shipmentBase,
    shipment_status: optionalText,
    shipped_at: optionalTimestamp,
    tracking_number: optionalText,
    tracking_url: optionalText,
    shipping_partner: optionalText,
    delivery_method: optionalText,
    delivery_location: z.record(z.unknown()).nullish(),
    notes: optionalText,
    barcode_url: optionalText,
    shipping_label: optionalText,
  })
  .passthrough();

export const shipmentCancelledSchema = z
  .object({
    ...shipmentBase,
    cancellation_reason: optionalText,
    cancelled_at: optionalTimestamp,
  })
  .passthrough();

export const medicationUpdatedSchema = z
  .object({
    medication_order_id: id,
    status: z.enum(MEDICATION_STATUSES, {
      errorMap: () => ({ message: `must be one of ${MEDICATION_STATUSES.join(', ')}` }),
    }),
    previous_status: optionalText,
    prescription_id: optionalText,
    medication_request_id: optionalText,
    updated_at: optionalTimestamp,
    pharmetika_status: optionalText,
    tracking_number: optionalText,
    notes: optionalText,
  })
  .passthrough();

export const EVENT_DATA_SCHEMAS: Record<KnownEventName, z.ZodTypeAny> = {
  'shipment:created': shipmentCreatedSchema,
  'shipment:cancelled': shipmentCancelledSchema,
  'medication:updated': medicationUpdatedSchema,
};

export const envelopeSchema = z
  .object({
    event_name: z
      .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
      .regex(/^[a-z0-9_.-]+(:[a-z0-9_.-]+)*$/i, 'must look like "resource:action" (letters, digits, _ . -)')
      .max(100, 'must be at most 100 characters'),
    event_data: z.record(z.unknown(), {
      required_error: 'is required',
      invalid_type_error: 'must be a JSON object',
    }),
  })
  .passthrough();
