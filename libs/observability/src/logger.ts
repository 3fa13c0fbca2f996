import pino, { Logger } from 'pino';
import { trace } from '@opentelemetry/api';

/** Keys whose values are never logged: API keys, signing secrets, tokens, credentials. */
const SECRET_KEYS = [
  'api_key',
  'apiKey',
  'secret',
  'secrets',
  'previous_secret',
  'previousSecret',
  'signing_secret',
  'token',
  'password',
  'authorization',
  '["x-api-key"]',
  'cookie',
];

/**
 * Each of these keys is redacted at the top level and up to three levels down, which covers
 * `{ subscriber: { secret } }`, `{ req: { headers: { authorization } } }` and
 * `{ job: { subscriber: { apiKey } } }`. Array values (a subscriber's `secrets`) are redacted whole.
 */
export const REDACTED_PATHS = SECRET_KEYS.flatMap((key) => {
  const step = key.startsWith('[') ? key : `.${key}`;
  return [key, `*${step}`, `*.*${step}`, `*.*.*${step}`];
});

/**
 * Structured JSON logs on stdout. Every line carries the app name and, inside a traced operation, the
 * trace and span ids. Keys, secrets and tokens are redacted wherever they appear under these names.
 */
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
