import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { ApiError } from './api-error';

/** Fastify's own errors (before a handler runs) mapped to our codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Content-Type must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'body is empty; expected a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'body is not valid JSON' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Content-Type is missing' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Content-Type is not valid' },
};

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

type Body = { error: { code: string; message: string; details?: unknown; error_id?: string } };

/** Maps any error to `{error:{code,message}}` with the right status; 5xx get an error id that is logged. */
export function toErrorResponse(err: unknown, log: Logger): { status: number; body: Body; headers: Record<string, string> } {
  if (err instanceof ApiError) return { status: err.getStatus(), body: err.getResponse() as Body, headers: err.headers };
  const jsonProblem = jsonSyntaxProblem(err);
  if (jsonProblem) return { status: 400, body: { error: { code: 'invalid_json', message: jsonProblem } }, headers: {} };
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const code = STATUS_CODES[status] ?? (status < 500 ? 'bad_request' : 'internal');
    const message = status === 404 ? 'route not found' : status === 413 ? 'request body is larger than the limit' : err.message;
    return { status, body: { error: { code, message } }, headers: {} };
  }
  const fe = err as FastifyError;
  const known = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return { status: known.status, body: { error: { code: known.code, message: known.message } }, headers: {} };
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: 'bad_request', message: fe.message } }, headers: {} };
  }
  const errorId = randomUUID();
  log.error({ error_id: errorId, err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'unhandled error');
  return { status: 500, body: { error: { code: 'internal', message: 'internal error', error_id: errorId } }, headers: {} };
}

/** A body-parser failure (JSON syntax, forbidden prototype keys), whichever layer raised it. */
function jsonSyntaxProblem(err: unknown): string | null {
  const e = err as { message?: string; statusCode?: number; status?: number; name?: string };
  const status = e?.statusCode ?? e?.status ?? (err instanceof HttpException ? err.getStatus() : undefined);
  const message = e?.message ?? '';
  if (!(err instanceof SyntaxError) && status !== 400) return null;
  if (/__proto__|constructor|prototype/i.test(message)) return 'body contains a forbidden key (__proto__ or constructor)';
  if (err instanceof SyntaxError || /JSON|Unexpected (token|end)/i.test(message)) return 'body is not valid JSON';
  return null;
}

/**
 * Every error of a Nest-on-Fastify app, also those Fastify raises before a handler runs (body limit, content
 * type, JSON syntax): Nest routes them all through its exception filters.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body, headers } = toErrorResponse(exception, this.log);
    void reply.code(status).headers(headers).send(body);
  }
}
