import { HttpException } from '@nestjs/common';

/**
 * An error answered to an HTTP client as `{error: {code, message, details?}}`. Messages are written for
 * the client and never contain a key, a secret or a stack.
 */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super({ error: { code, message, ...(details !== undefined ? { details } : {}) } }, status);
  }

  static badRequest(message: string, details?: unknown) {
    return new ApiError(400, 'bad_request', message, details);
  }
  static unauthorized(message = 'missing or invalid credentials') {
    return new ApiError(401, 'unauthorized', message);
  }
  static notFound(what = 'resource') {
    return new ApiError(404, 'not_found', `${what} not found`);
  }
  static unsupportedMediaType(message = 'Content-Type must be application/json') {
    return new ApiError(415, 'unsupported_media_type', message);
  }
  static rateLimited(retryAfterSeconds: number) {
    return new ApiError(429, 'rate_limited', `too many events for this clinic; retry after ${retryAfterSeconds} s`, undefined, {
      'retry-after': String(retryAfterSeconds),
    });
  }
  static unavailable(message: string, retryAfterSeconds: number) {
    return new ApiError(503, 'unavailable', message, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}
