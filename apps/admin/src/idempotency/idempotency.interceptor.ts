import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Observable, catchError, from, mergeMap, of, throwError } from 'rxjs';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { LOGGER, Logger } from '@switchyard/observability';
import { RequestIdempotencyRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { Principal } from '../auth/principal';
import { IDEMPOTENCY_HEADER, idempotencyScopeOf, isWellFormedIdempotencyKey, requestFingerprint } from './request-fingerprint';

/** How long a first request may run before a retry with its key may take over (its process died). */
const RUNNING_LOCK_MS = 60_000;

/**
 * `Idempotency-Key` on every POST of the admin app (global, so routes added later take it too): the first
 * request with a key runs and its answer (2xx) is remembered for ADMIN_IDEMPOTENCY_TTL, encrypted; a retry
 * with the same key and request gets that answer again (same status and body, header
 * `Idempotent-Replayed: true`); the same key with another method, path or body is a 422; a retry while the
 * first still runs is a 409 with Retry-After. A request that fails is forgotten, so its retry runs again.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly store: RequestIdempotencyRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async intercept(ctx: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<FastifyRequest & { principal?: Principal }>();
    const key = req.headers[IDEMPOTENCY_HEADER];
    if (req.method !== 'POST' || key === undefined || !req.principal) return next.handle();
    if (!isWellFormedIdempotencyKey(key)) {
      throw new ApiError(400, 'invalid_idempotency_key', 'Idempotency-Key: must be 1 to 255 visible ASCII characters (e.g. a UUID)');
    }
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const scope = idempotencyScopeOf(req.principal);
    const claim = await this.store.claim(scope, key, requestFingerprint(req.method, req.url, req.body), this.config.ADMIN_IDEMPOTENCY_TTL, RUNNING_LOCK_MS);
    switch (claim.kind) {
      case 'mismatch':
        throw new ApiError(422, 'idempotency_key_reused', 'Idempotency-Key: was already used for another request (method, path or body); use a new key');
      case 'running':
        throw new ApiError(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is still being processed; retry shortly', undefined, {
          'retry-after': '1',
        });
      case 'replay':
        void reply.status(claim.status).header('idempotent-replayed', 'true');
        return of(claim.body === '' ? undefined : JSON.parse(claim.body));
    }
    return next.handle().pipe(
      mergeMap(async (response) => {
        await this.store
          .complete(scope, key, reply.statusCode, response === undefined ? '' : JSON.stringify(response))
          .catch((err: Error) => this.log.error({ route: req.url, err: { message: err.message } }, 'the answer of an Idempotency-Key request could not be stored'));
        return response;
      }),
      catchError((err: unknown) => from(this.store.release(scope, key).catch(() => undefined)).pipe(mergeMap(() => throwError(() => err)))),
    );
  }
}
