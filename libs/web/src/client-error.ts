import type { Socket } from 'node:net';

/**
 * Errors Node's HTTP parser raises before any route runs (headers too large, malformed request line,
 * Content-Length together with chunked, a body that never finishes arriving) answered in our
 * `{error:{code,message}}` shape instead of Fastify's default one, then the connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request_timeout', 'the request was not received completely in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'request headers are larger than the limit']
        : [400, 'Bad Request', 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Fastify server options that bound how long one request may take to arrive (slow or lying clients:
 * a Content-Length larger than the body sent would otherwise hold the connection open for ever, since
 * Fastify disables Node's request timeout) and answer parser errors as JSON. Node checks request timeouts
 * every `connectionsCheckingInterval`, 30 s by default: checked every second here.
 */
export function hardenedServerOptions(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    http: { connectionsCheckingInterval: 1_000, headersTimeout: requestTimeoutMs },
    clientErrorHandler,
  };
}
