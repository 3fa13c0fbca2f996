import { ApiProperty } from '@nestjs/swagger';
import { z } from 'zod';
import { isoDateTime, uuid } from '../validation';

export const AUDIT_ACTORS = ['operator', 'clinic_key', 'portal_session'] as const;

export const auditQuery = z
  .object({
    clinic_id: uuid.optional(),
    actor: z.enum(AUDIT_ACTORS).optional(),
    method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).optional(),
    target_id: uuid.optional(),
    since: isoDateTime('must be an ISO 8601 time').optional(),
    until: isoDateTime('must be an ISO 8601 time').optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().regex(/^[1-9][0-9]{0,17}$/, 'is not valid').optional(),
  })
  .strict();

class AuditActorDto {
  @ApiProperty({ enum: AUDIT_ACTORS }) kind: string;
  @ApiProperty({ nullable: true, type: String, description: "The clinic key's id or the portal session's id; null for the operator." }) id: string | null;
}
export class AuditEntryDto {
  @ApiProperty() id: string;
  @ApiProperty() at: string;
  @ApiProperty({ type: AuditActorDto }) actor: AuditActorDto;
  @ApiProperty({ nullable: true, type: String }) clinic_id: string | null;
  @ApiProperty({ example: 'PATCH' }) method: string;
  @ApiProperty({ example: '/api/external/webhook/:id' }) route: string;
  @ApiProperty({ nullable: true, type: String }) target_id: string | null;
  @ApiProperty({ type: [String], description: 'Names of the body fields sent (never their values).' }) fields: string[];
  @ApiProperty({ description: 'The X-Request-Id of the request (sent by the caller, or made by the app).' }) request_id: string;
  @ApiProperty() status: number;
  @ApiProperty({ enum: ['succeeded', 'failed'] }) outcome: string;
  @ApiProperty({ nullable: true, type: String }) error_code: string | null;
}
export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) items: AuditEntryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next (older) page; null on the last page.' }) next_cursor: string | null;
}
