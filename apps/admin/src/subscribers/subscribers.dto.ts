import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import { MAX_SUBSCRIBER_TIMEOUT_MS } from '@switchyard/config';
import { SUBSCRIBER_FORMATS } from '@switchyard/contracts';

/**
 * An api_key goes out as the X-API-Key header of each delivery, so it must be what a header carries: undici
 * refuses anything beyond Latin-1 on every attempt (each delivery dead-lettered) and sends U+0080–U+00FF as
 * single bytes the receiver reads as another key; control characters would split the header (CR/LF).
 */
const VISIBLE_ASCII = /^[\x20-\x7e]*$/;
const eventTypes = z
  .array(z.string().min(1).max(100).regex(/^(\*|[a-z0-9_.-]+(:[a-z0-9_.-]+)*)$/i, 'must be an event name like shipment:created, or *'))
  .min(1, 'must list at least one event type (or *)')
  .max(50);
const headerValue = z.string().min(1).max(512).regex(VISIBLE_ASCII, 'must be visible ASCII (no control characters such as CR or LF, no letters outside ASCII)');

const subscriberFields = {
  event_types: eventTypes.optional(),
  format: z.enum(SUBSCRIBER_FORMATS as [string, ...string[]]).optional(),
  api_key: headerValue.nullable().optional(),
  timeout_ms: z.number().int().min(100).max(MAX_SUBSCRIBER_TIMEOUT_MS).nullable().optional(),
  ordered: z.boolean().optional(),
  max_in_flight: z.number().int().min(1).max(1000).nullable().optional(),
  rate_limit_per_second: z.number().positive().max(10_000).nullable().optional(),
};

export const createSubscriberSchema = z
  .object({
    clinic_id: z.string({ required_error: 'is required' }).uuid('must be a UUID'),
    webhook_url: z.string({ required_error: 'is required' }).min(1).max(2048),
    ...subscriberFields,
  })
  .strict();

export const updateSubscriberSchema = z
  .object({ webhook_url: z.string().min(1).max(2048).optional(), enabled: z.boolean().optional(), ...subscriberFields })
  .strict();

export const rotateSecretSchema = z.object({ overlap_seconds: z.number().int().min(0).max(7 * 86_400).default(86_400) }).strict();

export class CreateSubscriberDto {
  @ApiProperty({ format: 'uuid' }) clinic_id: string;
  @ApiProperty({ example: 'https://clinic.example.com/webhooks/nimbus' }) webhook_url: string;
  @ApiPropertyOptional({ type: [String], example: ['shipment:created', 'medication:updated'], default: ['*'] }) event_types?: string[];
  @ApiPropertyOptional({ enum: SUBSCRIBER_FORMATS, default: 'cloudevents' }) format?: string;
  @ApiPropertyOptional({ description: 'Sent as X-API-Key on each delivery: visible ASCII (space to ~), up to 512 characters.' }) api_key?: string;
  @ApiPropertyOptional() timeout_ms?: number;
  @ApiPropertyOptional({ description: 'Deliver events about one entity in the order received.' }) ordered?: boolean;
  @ApiPropertyOptional() max_in_flight?: number;
  @ApiPropertyOptional() rate_limit_per_second?: number;
}
export class UpdateSubscriberDto {
  @ApiPropertyOptional() webhook_url?: string;
  @ApiPropertyOptional() enabled?: boolean;
  @ApiPropertyOptional({ type: [String] }) event_types?: string[];
  @ApiPropertyOptional({ enum: SUBSCRIBER_FORMATS }) format?: string;
  @ApiPropertyOptional({ nullable: true }) api_key?: string | null;
  @ApiPropertyOptional({ nullable: true }) timeout_ms?: number | null;
  @ApiPropertyOptional() ordered?: boolean;
  @ApiPropertyOptional({ nullable: true }) max_in_flight?: number | null;
  @ApiPropertyOptional({ nullable: true }) rate_limit_per_second?: number | null;
}
export class RotateSecretDto {
  @ApiPropertyOptional({ description: 'Seconds during which the old secret also signs (default 86400).' }) overlap_seconds?: number;
}
export class WebhookDto {
  @ApiProperty() webhook_id: string;
  @ApiProperty() clinic_id: string;
  @ApiProperty() webhook_url: string;
  @ApiProperty({ type: [String] }) event_types: string[];
  @ApiProperty({ enum: SUBSCRIBER_FORMATS }) format: string;
  @ApiProperty() enabled: boolean;
  @ApiProperty({ nullable: true, type: String }) disabled_reason: string | null;
  @ApiProperty({ description: 'Whether an X-API-Key is sent on deliveries (its value is never shown).' }) api_key_set: boolean;
  @ApiProperty({ nullable: true, type: Number }) timeout_ms: number | null;
  @ApiProperty() ordered: boolean;
  @ApiProperty({ nullable: true, type: Number }) max_in_flight: number | null;
  @ApiProperty({ nullable: true, type: Number }) rate_limit_per_second: number | null;
  @ApiProperty() created_at: string;
  @ApiProperty() updated_at: string;
}
export class WebhookEnvelopeDto {
  @ApiProperty() success: boolean;
  @ApiProperty({ type: WebhookDto }) data: WebhookDto;
  @ApiPropertyOptional() message?: string;
}
export class WebhookListDto {
  @ApiProperty() success: boolean;
  @ApiProperty({ type: [WebhookDto] }) data: WebhookDto[];
}
class DeletedWebhookData {
  @ApiProperty() webhook_id: string;
}
export class DeletedWebhookDto {
  @ApiProperty() success: boolean;
  @ApiProperty({ type: DeletedWebhookData }) data: DeletedWebhookData;
  @ApiProperty() message: string;
}
class CreatedWebhookData {
  @ApiProperty() webhook_id: string;
  @ApiProperty({ description: 'Signing secret (whsec_…), shown only here and on rotation.' }) secret: string;
}
export class CreatedWebhookDto {
  @ApiProperty() success: boolean;
  @ApiProperty({ type: CreatedWebhookData }) data: CreatedWebhookData;
  @ApiProperty() message: string;
}
