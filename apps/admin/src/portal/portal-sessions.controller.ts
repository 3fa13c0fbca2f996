import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '@switchyard/web';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { parse, pathId } from '../validation';
import { publicOriginOf } from './portal-cookie';
import { PortalSessionService } from './portal-session.service';
import { IssuePortalSessionDto, IssuedPortalSessionDto, PortalSessionListDto, issuePortalSessionSchema } from './portal.dto';

/** Operator routes: portal links that open the console as one clinic (like Svix's magic links). */
@ApiTags('portal')
@ApiBearerAuth()
@UseGuards(AdminAuthGuard)
@Controller('admin/clinics/:id/portal-sessions')
export class PortalSessionsController {
  constructor(private readonly portal: PortalSessionService) {}

  @Post()
  @ApiOperation({ summary: 'Issue a short-lived console link for one clinic (the URL is shown only here)' })
  @ApiCreatedResponse({ type: IssuedPortalSessionDto })
  async issue(@Param('id') id: string, @Body() body: IssuePortalSessionDto, @Req() req: FastifyRequest) {
    const { ttl_seconds } = parse(issuePortalSessionSchema, body ?? {});
    const issued = await this.portal.issue(pathId(id, 'clinic'), ttl_seconds, publicOriginOf(req));
    if (!issued) throw ApiError.notFound('clinic');
    return issued;
  }

  @Get()
  @ApiOperation({ summary: "List a clinic's portal links and sessions, newest first" })
  @ApiOkResponse({ type: PortalSessionListDto })
  async list(@Param('id') id: string) {
    return { items: await this.portal.list(pathId(id, 'clinic')) };
  }

  @Delete(':sessionId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a portal link or the session it opened, at once' })
  async revoke(@Param('id') id: string, @Param('sessionId') sessionId: string) {
    if (!(await this.portal.revoke(pathId(id, 'clinic'), pathId(sessionId, 'portal session')))) throw ApiError.notFound('portal session');
  }
}
