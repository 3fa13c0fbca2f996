import { CallHandler, ExecutionContext, HttpException, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { AUDITED_METHODS, AuditedRequest, auditRecordOf, clinicIdOf } from '@switchyard/audit';
import { LOGGER, Logger } from '@switchyard/observability';
import { AuditRepository, SubscriberRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { Principal } from '../auth/principal';

type Request = FastifyRequest & { principal?: Principal };

/** Status and error code of a failed request, as the error filter will answer it. */
function failureOf(err: unknown): { status: number; code: string } {
  if (err instanceof ApiError) return { status: err.getStatus(), code: err.code };
  if (err instanceof HttpException) return { status: err.getStatus(), code: `http_${err.getStatus()}` };
  return { status: 500, code: 'internal' };
}

/**
 * Records every write (POST, PUT, PATCH, DELETE) an authenticated principal makes through the admin app,
 * whichever controller serves it (a global interceptor: a route added later is recorded without a line of
 * its own): who, the route and method, the target id, the request id, the status. The entry is written
 * before the answer leaves, so a caller that got its answer finds it listed. Requests refused before anyone
 * was authenticated (no principal) are not writes by anyone and are not recorded.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly audit: AuditRepository,
    private readonly subscribers: SubscriberRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<Request>();
    if (!AUDITED_METHODS.has(req.method)) return next.handle();
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    return next.handle().pipe(
      mergeMap(async (response) => {
        await this.record(req, response, reply.statusCode, null);
        return response;
      }),
      catchError((err: unknown) => {
        const { status, code } = failureOf(err);
        return from(this.record(req, undefined, status, code)).pipe(mergeMap(() => throwError(() => err)));
      }),
    );
  }

  /** Writes the entry once the request is answered, if it had a principal by then (routes that authenticate in their handler, like a portal link's exchange, set it there). */
  private async record(req: Request, response: unknown, status: number, errorCode: string | null): Promise<void> {
    if (!req.principal) return;
    const audited: AuditedRequest = {
      actor: req.principal!,
      method: req.method,
      route: req.routeOptions.url ?? req.url.split('?')[0]!,
      params: (req.params ?? {}) as Record<string, string>,
      query: (req.query ?? {}) as Record<string, unknown>,
      body: req.body,
      response,
      requestId: String(req.id),
      status,
      errorCode,
    };
    try {
      await this.audit.record(auditRecordOf(audited, await this.clinicOf(audited)));
    } catch (err) {
      this.log.error({ route: audited.route, method: audited.method, request_id: audited.requestId, err: { message: (err as Error).message } }, 'audit entry could not be recorded');
    }
  }

  /** The clinic of the entry; for an operator's write on a webhook whose answer does not name it, the webhook's. */
  private async clinicOf(r: AuditedRequest): Promise<string | null> {
    const named = clinicIdOf(r);
    if (named || !r.route.startsWith('/api/external/webhook/:id') || !r.params.id) return named;
    return /^[0-9a-f-]{36}$/i.test(r.params.id) ? this.subscribers.clinicOf(r.params.id) : null;
  }
}
