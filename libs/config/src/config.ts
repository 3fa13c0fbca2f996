import { z } from 'zod';
import { parseBytes, parseDuration, parseSchedule } from './duration';

/**
 * Every setting of every app, validated once at boot. Nothing else in the code base reads `process.env`
 * (apart from the OpenTelemetry bootstrap, which reads the standard OTEL_* variables itself).
 * Defaults point at the loopback services, so `npm start` works on a machine that has them.
 */
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseDuration(v);
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
        return z.NEVER;
      }
    });

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const DEV_ADMIN_TOKEN = 'switchyard-dev-admin-token';
const DEV_KEY_PEPPER = 'switchyard-dev-key-pepper';

const schema = z
  .object({
    NODE_ENV: z.string().default('development'),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),

    INGRESS_PORT: port(8080),
    /** Ingress's /healthz, /readyz and /metrics: never on the public webhook port. */
    INGRESS_OPS_PORT: port(9093),
    ADMIN_PORT: port(8081),
    DEDUPE_GRPC_PORT: port(50051),
    DEDUPE_GRPC_URL: z.string().min(1).default('127.0.0.1:50051'),
    DEDUPE_HTTP_PORT: port(9091),
    FANOUT_HTTP_PORT: port(9092),
    HTTP_HOST: z.string().default('0.0.0.0'),

    NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
    /** Prefix of every subject and stream name: tests give each file its own. */
    NATS_PREFIX: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/i, 'letters, digits, - and _ only')
      .default('switchyard'),
    STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
    STREAM_MAX_AGE: duration('7d'),
    STREAM_MAX_BYTES: z.coerce.number().int().default(-1),
    STREAM_DUPLICATE_WINDOW: duration('2m'),
    /** A message a fan-out replica took and did not acknowledge is given to another after this (a crashed replica's messages). */
    FANOUT_ACK_WAIT: duration('15s'),

    DATABASE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/test'),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and _ only')
      .default('public'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),

    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    KEY_PEPPER: z.string().min(16, 'must be at least 16 characters').optional(),
    AUTH_CACHE_TTL: duration('5s'),

    INGRESS_BODY_LIMIT: z
      .string()
      .default('256KiB')
      .transform((v) => parseBytes(v)),
    /** Events per second per clinic at ingress (token bucket, 429 above it); 0 = off. */
    /** The whole request (headers and body) must arrive within this; slower clients get a 408. */
    INGRESS_REQUEST_TIMEOUT: duration('10s'),
    INGRESS_RATE_LIMIT: z.coerce.number().min(0).default(0),
    /** Bucket size: events a clinic may send at once; 0 = one second's worth of INGRESS_RATE_LIMIT (at least 1). */
    INGRESS_RATE_BURST: z.coerce.number().int().min(0).default(0),
    DEDUPE_TIMEOUT: duration('2s'),
    PUBLISH_TIMEOUT: duration('3s'),

    DEDUPE_TTL: duration('24h'),
    DEDUPE_LEASE: duration('30s'),
    DEDUPE_CLEANUP_INTERVAL: duration('1m'),

    RETRY_SCHEDULE: z
      .string()
      .default('1m,5m,15m,1h')
      .transform((v, ctx) => {
        try {
          return parseSchedule(v);
        } catch (e) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
          return z.NEVER;
        }
      }),
    RETRY_JITTER: z.coerce.number().min(0).max(0.5).default(0.1),
    DELIVERY_TIMEOUT: duration('10s'),
    DELIVERY_CONNECT_TIMEOUT: duration('3s'),
    DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(256),
    DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER: z.coerce.number().int().min(1).max(1000).default(10),
    /** Attempts under way at once in one fan-out process for one clinic (at most DELIVERY_CONCURRENCY). */
    DELIVERY_MAX_IN_FLIGHT_PER_CLINIC: z.coerce.number().int().min(1).max(10_000).default(128),
    /** Longest time the scheduler sleeps while it cannot hear due-work announcements (LISTEN down). */
    DELIVERY_POLL_INTERVAL: duration('1s'),
    /** Longest time the scheduler sleeps with nothing due while it hears announcements (it backs off up to this). */
    DELIVERY_IDLE_POLL_INTERVAL: duration('30s'),
    DELIVERY_LEASE: duration('60s'),
    /** How long fan-out waits for the first attempts it makes straight from a consumed message before storing the event. */
    DELIVERY_FAST_PATH_WAIT: duration('500ms'),
    /** Fan-out's memory of each clinic's subscribers, invalidated by NOTIFY on every change; the TTL is a safety net, 0 turns it off. */
    SUBSCRIBER_CACHE_TTL: duration('30s'),
    ALLOW_INSECURE_SUBSCRIBER_URLS: bool(false),
    /** Comma-separated CIDRs that are allowed even in strict mode (e.g. a mesh-internal receiver). */
    SUBSCRIBER_ALLOWED_CIDRS: z.string().default(''),

    METRICS_CLINIC_LABEL: bool(false),
  })
  .transform((c, ctx) => {
    const production = c.NODE_ENV === 'production';
    for (const name of ['ADMIN_TOKEN', 'KEY_PEPPER'] as const) {
      if (production && !c[name]) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: 'is required when NODE_ENV=production' });
      }
    }
    return {
      ...c,
      ADMIN_TOKEN: c.ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
      KEY_PEPPER: c.KEY_PEPPER ?? DEV_KEY_PEPPER,
    };
  });

export type AppConfig = z.output<typeof schema>;

export class ConfigError extends Error {}

/** Validates the environment into a typed config; the error names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** Exit code for a configuration error (EX_CONFIG): the supervisor does not restart such a process. */
export const EXIT_CONFIG = 78;

/** Loads the config or prints what is wrong and exits with EXIT_CONFIG. For `main.ts` files. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(EXIT_CONFIG);
  }
}

/**
 * Runs an app's start function when its file is the process's entry point (`node dist/apps/x/src/main.js`),
 * with the validated config; a failure to start is printed and exits 1.
 */
export function startWhenMain(mod: NodeModule, app: string, start: (config: AppConfig) => Promise<unknown>): void {
  if (require.main !== mod) return;
  start(loadConfigOrExit()).catch((err) => {
    process.stderr.write(`${app} failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
