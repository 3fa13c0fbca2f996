import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ClinicAuthenticator } from '@switchyard/tenancy';
import { ApiError } from '@switchyard/web';
import { PortalSessionService } from '../portal/portal-session.service';
import { portalCookieOf } from '../portal/portal-cookie';
import { Principal } from './principal';

const CLINIC_KEYS_ALLOWED = 'switchyard:clinic-keys-allowed';
/**
 * Marks a controller whose routes a clinic may call with its own X-API-Key or through a portal session
 * (the console's cookie) — the /api/external/* routes.
 */
export const ClinicKeysAllowed = () => SetMetadata(CLINIC_KEYS_ALLOWED, true);

/** The authenticated principal of the request. */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext) => (ctx.switchToHttp().getRequest<FastifyRequest & { principal: Principal }>()).principal,
);

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Methods that change nothing: no CSRF check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * `Authorization: Bearer $ADMIN_TOKEN` → operator (compared in constant time); on routes marked
 * ClinicKeysAllowed, `X-API-Key` → that clinic, or else the portal session cookie → that clinic, where a
 * write must also carry the session's `X-CSRF-Token` (403 otherwise). Everything else: the same 401.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly adminDigest: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly clinics: ClinicAuthenticator,
    private readonly portal: PortalSessionService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.adminDigest = digest(config.ADMIN_TOKEN);
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<FastifyRequest & { principal?: Principal }>();
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) {
      if (timingSafeEqual(digest(auth.slice(7).trim()), this.adminDigest)) {
        req.principal = { kind: 'operator' };
        return true;
      }
      throw ApiError.unauthorized();
    }
    const allowClinic = this.reflector.getAllAndOverride<boolean>(CLINIC_KEYS_ALLOWED, [ctx.getHandler(), ctx.getClass()]);
    if (allowClinic && req.headers['x-api-key'] !== undefined) {
      const clinic = await this.clinics.authenticate(req.headers['x-api-key']);
      if (clinic) {
        req.principal = { kind: 'clinic', clinicId: clinic.clinicId };
        return true;
      }
      throw ApiError.unauthorized();
    }
    const sessionToken = allowClinic ? portalCookieOf(req) : undefined;
    if (sessionToken !== undefined) {
      const session = await this.portal.authenticate(sessionToken);
      if (session) {
        if (!SAFE_METHODS.has(req.method) && !this.portal.csrfMatches(req.headers['x-csrf-token'], sessionToken)) {
          throw new ApiError(403, 'csrf_failed', 'a write through a portal session needs its X-CSRF-Token header');
        }
        req.principal = { kind: 'clinic', clinicId: session.clinicId, portalSessionId: session.id };
        return true;
      }
    }
    throw ApiError.unauthorized();
  }
}
