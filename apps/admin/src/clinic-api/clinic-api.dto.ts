import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import { DELIVERY_STATUSES } from '@switchyard/persistence';
import { KNOWN_EVENT_NAMES } from '@switchyard/contracts';
import { DeliveryDto } from '../deliveries/deliveries.dto';
import { isoDateTime, uuid } from '../validation';

const timestamp = isoDateTime().transform((v) => new Date(v));
const eventName = z.string().max(100).regex(/^[a-z0-9_.-]+(:[a-z0-9_.-]+)*$/i, 'must be an event name like shipment:created');
const beforeUntil = (q: { since?: Date; until?: Date }) => !q.since || !q.until || q.since < q.until;

export const clinicDeliveriesQuery = z
  .object({
    clinic_id: uuid.optional(),
    webhook_id: uuid.optional(),
    status: z.enum(DELIVERY_STATUSES).optional(),
    event_type: eventName.optional(),
    since: timestamp.optional(),
    until: timestamp.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
  })
  .refine(beforeUntil, { message: 'must be before until', path: ['since'] });

/** The chart: at most 24 × 7 buckets, at least a minute wide. */
export const deliveryStatsQuery = z
  .object({
    clinic_id: uuid.optional(),
    webhook_id: uuid.optional(),
    hours: z.coerce.number().int().min(1).max(24 * 7).default(24),
    bucket_minutes: z.coerce.number().int().min(1).max(24 * 60).default(60),
  })
  .refine((q) => (q.hours * 60) / q.bucket_minutes <= 24 * 7, { message: 'hours ÷ bucket_minutes must give at most 168 buckets', path: ['bucket_minutes'] });

export const webhookHealthQuery = z.object({ clinic_id: uuid.optional(), webhook_id: uuid.optional() });

export const replayBody = z
  .object({ since: timestamp.optional(), until: timestamp.optional(), dry_run: z.boolean().default(false) })
  .strict()
  .refine(beforeUntil, { message: 'must be before until', path: ['since'] });

export const testEventBody = z.object({ event_type: z.enum(KNOWN_EVENT_NAMES).optional() }).strict();

export class EventTypeDto {
  @ApiProperty({ enum: KNOWN_EVENT_NAMES }) name: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON Schema (draft 7) of the body as Nimbus sends it' }) schema: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: "The Nimbus guide's example body" }) example: Record<string, unknown>;
}
export class EventTypeListDto {
  @ApiProperty({ type: [EventTypeDto] }) items: EventTypeDto[];
}
class LastAttemptDto {
  @ApiProperty() at: string;
  @ApiProperty() outcome: string;
  @ApiProperty({ nullable: true, type: Number }) status_code: number | null;
}
export class WebhookHealthDto {
  @ApiProperty() webhook_id: string;
  @ApiProperty({ description: 'Attempts in the last 24 h' }) attempts_24h: number;
  @ApiProperty() successes_24h: number;
  @ApiProperty({ nullable: true, type: Number, description: 'successes ÷ attempts over the last 24 h (null without attempts)' }) success_rate_24h: number | null;
  @ApiProperty({ nullable: true, type: LastAttemptDto }) last_attempt: LastAttemptDto | null;
  @ApiProperty({ description: 'Pending or being attempted' }) waiting: number;
  @ApiProperty({ description: 'Held while the webhook is disabled' }) parked: number;
  @ApiProperty({ description: 'Dead letters (replayable)' }) dead: number;
}
export class WebhookHealthListDto {
  @ApiProperty({ type: [WebhookHealthDto] }) items: WebhookHealthDto[];
}
export class ClinicDeliveryPageDto {
  @ApiProperty({ type: [DeliveryDto] }) items: DeliveryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page.' }) next_cursor: string | null;
}
export class ResentDto {
  @ApiProperty() delivery_id: string;
  @ApiProperty({ example: 'pending' }) status: string;
}
export class ReplayWebhookDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Dead-lettered at or after' }) since?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Dead-lettered before' }) until?: string;
  @ApiPropertyOptional({ description: 'Only count what would be queued', default: false }) dry_run?: boolean;
}
export class ReplayWebhookResultDto {
  @ApiProperty() dry_run: boolean;
  @ApiProperty({ description: 'Dead letters queued again (or, in a dry run, that would be)' }) count: number;
}
export class TestEventDto {
  @ApiPropertyOptional({ enum: KNOWN_EVENT_NAMES, description: "Include this event type's example in the test event" }) event_type?: string;
}
export class TestEventSentDto {
  @ApiProperty() event_id: string;
  @ApiProperty() delivery_id: string;
  @ApiProperty({ example: 'switchyard:test' }) event_name: string;
}
export class WebhookSecretDto {
  @ApiProperty() webhook_id: string;
  @ApiProperty({ description: 'The current signing secret (whsec_…)' }) secret: string;
  @ApiProperty({ nullable: true, type: String, description: 'Until when the previous secret also signs (rotation overlap)' }) previous_secret_expires_at: string | null;
}
class StatsBucketDto {
  @ApiProperty() start: string;
  @ApiProperty() succeeded: number;
  @ApiProperty({ description: 'Pending or being attempted' }) waiting: number;
  @ApiProperty() dead: number;
  @ApiProperty() parked: number;
  @ApiProperty({ description: 'Waiting when their webhook was deleted' }) cancelled: number;
}
export class DeliveryStatsDto {
  @ApiProperty() since: string;
  @ApiProperty() until: string;
  @ApiProperty() bucket_minutes: number;
  @ApiProperty({ type: [StatsBucketDto] }) buckets: StatsBucketDto[];
}
