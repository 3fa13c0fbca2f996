import pino, { Logger } from 'pino';
import { trace } from '@opentelemetry/api';

/** Keys whose values are never logged, compared case-insensitively: API keys, signing secrets, tokens, credentials. */
const SECRET_KEYS = new Set([
  'api_key',
  'apikey',
  'x-api-key',
  'secret',
  'secrets',
  'previous_secret',
  'previoussecret',
  'signing_secret',
  'token',
  'password',
  'authorization',
  'cookie',
]);
const MAX_DEPTH = 4;

/**
 * A logged error as its type, message, code (a SQLSTATE, an errno name) and stack, and nothing else: what pg and
 * TypeORM add to a failed statement's error is data — `detail` ("Failing row contains (…)"), `parameters` (the
 * statement's values) — and pino's serializer wrote every such field.
 */
function errorFields(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { type: err.constructor?.name || err.name, message: err.message, ...(code === undefined ? {} : { code }), stack: err.stack };
}

/**
 * Replaces the value of every secret-named key, at any depth up to MAX_DEPTH, with '[redacted]', and every
 * error with its errorFields. Copy on
 * write: the caller's objects are never changed, and an object with nothing to hide is returned as is.
 * (A walk like this costs a few microseconds a line; pino's wildcard path redaction cost ~6 % of the
 * ingress CPU at saturation.)
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (value instanceof Error) return errorFields(value) as T;
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const scrubbed = redactSecrets(item, depth + 1);
      if (scrubbed !== item) (copy ??= [...value])[i] = scrubbed;
    });
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const scrubbed = SECRET_KEYS.has(key.toLowerCase()) ? '[redacted]' : redactSecrets(item, depth + 1);
    if (scrubbed !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = scrubbed;
  }
  return (copy ?? value) as T;
}

/**
 * Structured JSON logs on stdout. Every line carries the app name and, inside a traced operation, the
 * trace and span ids. Keys, secrets and tokens are redacted wherever they appear under these names.
 * Each line is one `write` on the app's own thread (pino's default), and is out before the call returns.
 * An asynchronous destination handed every line to libuv's thread pool, which woke a pool thread and then
 * the event loop for it: ingress logs each accepted event, and at 600 events/s that was half a wake-up per
 * event and ~5 % of its CPU (bench/RESULTS.md, sixteenth round).
 */
export function createLogger(app: string, level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (object) => redactSecrets(object) },
      // pino runs this after the formatter above, which has made a logged `err` errorFields already: its default
      // serializer would name that plain object's type "Object". An error still here came in a child logger's
      // bindings, which the formatter does not see.
      serializers: { err: (err: unknown) => (err instanceof Error ? errorFields(err) : err) },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    destination ?? pino.destination({ sync: true }),
  );
}

export type { Logger } from 'pino';

/** Optional hooks of an app's `start…` function (tests capture the log lines with `logDestination`). */
export interface StartOptions {
  logDestination?: pino.DestinationStream;
}
