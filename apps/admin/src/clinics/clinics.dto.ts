import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';

export const createClinicSchema = z.object({ name: z.string().trim().min(1, 'is required').max(200) }).strict();
export const updateClinicSchema = z.object({ enabled: z.boolean({ required_error: 'is required', invalid_type_error: 'must be a boolean' }) }).strict();
export const issueKeySchema = z.object({ grace_seconds: z.number().int().min(0).max(30 * 86_400).default(86_400) }).strict();
export const listSchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), after: z.string().uuid().optional() });

export class CreateClinicDto {
  @ApiProperty({ example: 'Austin Family Clinic' }) name: string;
}
export class UpdateClinicDto {
  @ApiProperty() enabled: boolean;
}
export class IssueKeyDto {
  @ApiPropertyOptional({ description: 'Seconds the older keys keep working (default 86400).', example: 3600 }) grace_seconds?: number;
}
export class ClinicDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() enabled: boolean;
  @ApiProperty() created_at: string;
}
export class ClinicPageDto {
  @ApiProperty({ type: [ClinicDto] }) items: ClinicDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `after` for the next page; null on the last page.' }) next_cursor: string | null;
}
export class KeyDto {
  @ApiProperty() key_id: string;
  @ApiProperty({ example: 'swy_…a1B2', description: 'The last characters only; the key itself is never shown again.' }) hint: string;
  @ApiProperty() created_at: string;
  @ApiProperty({ nullable: true, type: String }) expires_at: string | null;
  @ApiProperty({ nullable: true, type: String }) revoked_at: string | null;
}
export class ClinicWithKeysDto extends ClinicDto {
  @ApiProperty({ type: [KeyDto] }) keys: KeyDto[];
}
export class CreatedClinicDto extends ClinicDto {
  @ApiProperty({ description: 'The first API key, shown only in this response.' }) api_key: string;
}
export class IssuedKeyDto {
  @ApiProperty() key_id: string;
  @ApiProperty({ description: 'Shown only in this response.' }) api_key: string;
}
