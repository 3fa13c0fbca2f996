import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiCookieAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '@switchyard/web';
import { Principal } from '../auth/principal';
import { parse } from '../validation';
import { clearedSessionCookie, isHttps, portalCookieOf, sessionCookie } from './portal-cookie';
import { PortalSessionService } from './portal-session.service';
import { ExchangeDto, PortalSessionInfoDto, exchangeSchema } from './portal.dto';

/** These routes authenticate in their handler (the token or the cookie): the audit trail records the session as the actor. */
function audited(req: FastifyRequest, owner: { id: string; clinicId: string }): void {
  (req as FastifyRequest & { principal?: Principal }).principal = { kind: 'clinic', clinicId: owner.clinicId, portalSessionId: owner.id };
}

const invalidLink = () => new ApiError(401, 'invalid_portal_link', 'this console link is unknown, already used, expired or revoked; ask for a new one');

/**
 * The console's side of a portal session: swap the link's token for the cookie, read the session (and its
 * CSRF token), sign out. Not under the admin guard: the token or the cookie is the credential.
 */
@ApiTags('portal')
@Controller('api/portal/session')
export class PortalSessionController {
  constructor(private readonly portal: PortalSessionService) {}

  private info(owner: { clinicId: string; clinicName: string; expiresAt: Date }, sessionToken: string) {
    return { clinic: { id: owner.clinicId, name: owner.clinicName }, expires_at: owner.expiresAt.toISOString(), csrf_token: this.portal.csrfToken(sessionToken) };
  }

  @Post()
  @HttpCode(200)
  // No credential but the link's token in the body: an explicit empty security requirement says so.
  @ApiOperation({ summary: "Open a portal link: swap its token (once) for an HttpOnly, SameSite=Strict session cookie", security: [] })
  @ApiOkResponse({ type: PortalSessionInfoDto })
  async exchange(@Body() body: ExchangeDto, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const exchanged = await this.portal.exchange(parse(exchangeSchema, body).token);
    if (!exchanged) throw invalidLink();
    audited(req, exchanged.owner);
    void reply.header('set-cookie', sessionCookie(exchanged.sessionToken, exchanged.owner.expiresAt, isHttps(req))).header('cache-control', 'no-store');
    return this.info(exchanged.owner, exchanged.sessionToken);
  }

  @Get()
  @ApiCookieAuth('portal-session')
  @ApiOperation({ summary: 'The current portal session: its clinic, when it ends, and its CSRF token' })
  @ApiOkResponse({ type: PortalSessionInfoDto })
  async current(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const token = portalCookieOf(req);
    const owner = await this.portal.authenticate(token);
    if (!owner || !token) throw ApiError.unauthorized('no live portal session');
    void reply.header('cache-control', 'no-store');
    return this.info(owner, token);
  }

  @Delete()
  @HttpCode(204)
  @ApiCookieAuth('portal-session')
  @ApiHeader({ name: 'X-CSRF-Token', required: true })
  @ApiOperation({ summary: 'Sign out: end the portal session and clear its cookie' })
  async signOut(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const token = portalCookieOf(req);
    const owner = await this.portal.authenticate(token);
    if (!owner || !token) throw ApiError.unauthorized('no live portal session');
    audited(req, owner);
    if (!this.portal.csrfMatches(req.headers['x-csrf-token'], token)) throw new ApiError(403, 'csrf_failed', 'signing out needs the X-CSRF-Token header');
    await this.portal.revoke(owner.clinicId, owner.id);
    void reply.header('set-cookie', clearedSessionCookie(isHttps(req)));
  }
}
