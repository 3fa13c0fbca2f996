import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';

/** A link lives at most a day: it is meant to be opened now, by the person it was made for. */
export const MAX_PORTAL_TTL_SECONDS = 86_400;

export const issuePortalSessionSchema = z
  .object({ ttl_seconds: z.number().int().min(60).max(MAX_PORTAL_TTL_SECONDS).default(3_600) })
  .strict();
export const exchangeSchema = z.object({ token: z.string({ required_error: 'is required' }).min(1).max(200) }).strict();

export class IssuePortalSessionDto {
  @ApiPropertyOptional({ description: 'How long the link (and the session it opens) lives, 60–86400 s (default 3600).', example: 3600 })
  ttl_seconds?: number;
}
export class PortalSessionDto {
  @ApiProperty() id: string;
  @ApiProperty() clinic_id: string;
  @ApiProperty() created_at: string;
  @ApiProperty() expires_at: string;
  @ApiProperty({ nullable: true, type: String, description: 'When the link was opened; a link opens once.' }) exchanged_at: string | null;
  @ApiProperty({ nullable: true, type: String }) revoked_at: string | null;
}
export class IssuedPortalSessionDto extends PortalSessionDto {
  @ApiProperty({ description: 'The link to hand to the clinic (shown only here). Its token is in the fragment, which browsers send to no server.', example: 'https://admin.example.com/console#portal=swp_…' })
  url: string;
}
export class PortalSessionListDto {
  @ApiProperty({ type: [PortalSessionDto] }) items: PortalSessionDto[];
}
export class ExchangeDto {
  @ApiProperty({ description: 'The token from the link (`swp_…`).' }) token: string;
}
class SessionClinicDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
}
export class PortalSessionInfoDto {
  @ApiProperty({ type: SessionClinicDto }) clinic: SessionClinicDto;
  @ApiProperty() expires_at: string;
  @ApiProperty({ description: 'Send as X-CSRF-Token on every write made with the session cookie.' }) csrf_token: string;
}
