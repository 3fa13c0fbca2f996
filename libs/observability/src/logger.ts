import pino, { Logger } from 'pino';
import { trace } from '@opentelemetry/api';

/**
 * Structured JSON logs on stdout. Every line carries the app name and, inside a traced operation, the
 * trace and span ids. Keys, secrets and tokens are redacted wherever they appear under these names.
 */
export const REDACTED_PATHS = [
  'api_key',
  'apiKey',
  'secret',
  'token',
  'password',
  'authorization',
  '*.api_key',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.password',
  '*.authorization',
  'headers["x-api-key"]',
  'headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
];

export function createLogger(app: string, level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}

export type { Logger } from 'pino';

/** Optional hooks of an app's `start…` function (tests capture the log lines with `logDestination`). */
export interface StartOptions {
  logDestination?: pino.DestinationStream;
}
