import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import { DELIVERY_STATUSES } from '@switchyard/persistence';
import { isoDateTime, uuid } from '../validation';

export const listQuery = z.object({
  clinic_id: uuid.optional(),
  webhook_id: uuid.optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

export const replayBody = z
  .object({
    ids: z.array(uuid).min(1).max(10_000).optional(),
    clinic_id: uuid.optional(),
    webhook_id: uuid.optional(),
    since: isoDateTime().optional(),
    until: isoDateTime().optional(),
  })
  .strict()
  .refine((b) => b.ids || b.clinic_id || b.webhook_id || b.since || b.until, 'give ids or at least one filter (clinic_id, webhook_id, since, until)');

export class ReplayDto {
  @ApiPropertyOptional({ type: [String] }) ids?: string[];
  @ApiPropertyOptional() clinic_id?: string;
  @ApiPropertyOptional() webhook_id?: string;
  @ApiPropertyOptional({ format: 'date-time' }) since?: string;
  @ApiPropertyOptional({ format: 'date-time' }) until?: string;
}
export class ReplayedDto {
  @ApiProperty() queued: number;
}

export class DeliveryDto {
  @ApiProperty() id: string;
  @ApiProperty() event_id: string;
  @ApiProperty() clinic_id: string;
  @ApiProperty() webhook_id: string;
  @ApiProperty() event_name: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty() attempt_count: number;
  @ApiProperty({ nullable: true, type: String }) next_attempt_at: string | null;
  @ApiProperty({ nullable: true, type: Number }) last_status_code: number | null;
  @ApiProperty({ nullable: true, type: String }) last_error: string | null;
  @ApiProperty() created_at: string;
  @ApiProperty({ nullable: true, type: String }) delivered_at: string | null;
  @ApiProperty({ nullable: true, type: String }) dead_at: string | null;
}
export class DeliveryPageDto {
  @ApiProperty({ type: [DeliveryDto] }) items: DeliveryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page.' }) next_cursor: string | null;
}
export class AttemptDto {
  @ApiProperty() attempt: number;
  @ApiProperty({ enum: ['success', 'http_error', 'timeout', 'network_error', 'blocked', 'redirect', 'unrenderable'] }) outcome: string;
  @ApiProperty({ nullable: true, type: Number }) status_code: number | null;
  @ApiProperty() duration_ms: number;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty({ nullable: true, type: String }) response_excerpt: string | null;
  @ApiProperty() started_at: string;
}
export class DeliveryWithAttemptsDto extends DeliveryDto {
  @ApiProperty({ type: [AttemptDto] }) attempts: AttemptDto[];
}
