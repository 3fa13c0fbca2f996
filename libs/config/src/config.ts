import { z } from 'zod';
import { parseBytes, parseDuration, parseSchedule } from './duration';

/**
 * Every setting of every app, validated once at boot. Nothing else in the code base reads `process.env`
 * (apart from the OpenTelemetry bootstrap, which reads the standard OTEL_* variables itself).
 * Defaults point at the loopback services, so `npm start` works on a machine that has them.
 */
/** A text setting turned into a value by `parse`; its error message names what is wrong. */
const parsed = <T>(fallback: string, parse: (text: string) => T) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parse(v);
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
        return z.NEVER;
      }
    });
const duration = (fallback: string) => parsed(fallback, parseDuration);
const schedule = (fallback: string) => parsed(fallback, parseSchedule);

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const DEV_ADMIN_TOKEN = 'switchyard-dev-admin-token';
const DEV_KEY_PEPPER = 'switchyard-dev-key-pepper';
/** The development key of SECRETS_KEYS (sha256 of a public phrase): never protects anything real. */
const DEV_SECRETS_KEYS = 'dev:vFcZ10/oi9mYxGsaMz08tUPq5sSi67CK+Rb4g8OuyLs=';

/**
 * How long Nimbus may take to give up on one event: it retries after 1 m, 5 m, 15 m and 1 h (its guide),
 * and each of the five attempts may run for its 5 s request timeout. An idempotency claim that expires
 * sooner lets a late retry through as a new event (a duplicate delivery), so DEDUPE_TTL must cover it.
 */
export const SENDER_REQUEST_TIMEOUT_MS = 5_000;
export function senderRetrySpanMs(schedule: number[]): number {
  return schedule.reduce((sum, d) => sum + d, 0) + (schedule.length + 1) * SENDER_REQUEST_TIMEOUT_MS;
}

/**
 * The longest claim lease: DEDUPE_LEASE, and what the dedupe service takes as a claim's `lease_ms`. A claimer
 * that crashed before publishing holds its key for the whole lease while the sender's retries are answered 409
 * (in progress): with Nimbus's schedule (1m, 5m, 15m, 1h) its last retry, 81 minutes in, still finds an hour's
 * lease run out. A publish takes seconds (PUBLISH_TIMEOUT; the default lease is 30 s).
 */
export const MAX_CLAIM_LEASE_MS = 3_600_000;

/** The longest `timeout_ms` a subscriber may have, whatever its clinic's ceiling (the admin API's bound). */
export const MAX_SUBSCRIBER_TIMEOUT_MS = 30_000;

/**
 * The highest timeout ceiling (`max_timeout_ms`) an operator may give a clinic: MAX_SUBSCRIBER_TIMEOUT_MS, and
 * half of DELIVERY_LEASE (a longer attempt could outlive its delivery's lease and be delivered twice).
 */
export function timeoutCeilingLimitMs(deliveryLeaseMs: number): number {
  return Math.min(MAX_SUBSCRIBER_TIMEOUT_MS, Math.floor(deliveryLeaseMs / 2));
}

/**
 * The longest one delivery attempt may last: DELIVERY_TIMEOUT (subscribers that set no `timeout_ms`), or a
 * subscriber's own, which its clinic's ceiling bounds (CLINIC_MAX_TIMEOUT, or one an operator set, at most
 * timeoutCeilingLimitMs) and MAX_SUBSCRIBER_TIMEOUT_MS too.
 */
export function longestAttemptMs(c: Pick<AppConfig, 'DELIVERY_TIMEOUT' | 'CLINIC_MAX_TIMEOUT' | 'DELIVERY_LEASE'>): number {
  const ceiling = Math.max(c.CLINIC_MAX_TIMEOUT, timeoutCeilingLimitMs(c.DELIVERY_LEASE));
  return Math.max(c.DELIVERY_TIMEOUT, Math.min(MAX_SUBSCRIBER_TIMEOUT_MS, ceiling));
}

/** What a stopping fan-out allows itself beyond its messages' fast-path wait and the longest attempt, to store and record them. */
export const FANOUT_DRAIN_WRITE_MS = 2_000;

/**
 * How long a stopping fan-out waits for the work under way before it gives its in-flight slots back and
 * closes its connections (FanoutShutdown): an attempt may have started just before (longestAttemptMs), a
 * message being handled waits DELIVERY_FAST_PATH_WAIT for its first attempts before its store, and the
 * store or the attempt's record takes a moment (FANOUT_DRAIN_WRITE_MS). With the defaults 32.5 s: a pod's
 * terminationGracePeriodSeconds must cover its preStop sleep, this and a second or two to close.
 */
export function fanoutDrainMs(c: Pick<AppConfig, 'DELIVERY_TIMEOUT' | 'CLINIC_MAX_TIMEOUT' | 'DELIVERY_LEASE' | 'DELIVERY_FAST_PATH_WAIT'>): number {
  return longestAttemptMs(c) + c.DELIVERY_FAST_PATH_WAIT + FANOUT_DRAIN_WRITE_MS;
}

/** One data key of SECRETS_KEYS: an id stored with every value it encrypts, and 32 bytes in base64. */
export interface SecretKeyConfig {
  id: string;
  key: string;
}

/** Parses `kid:base64key,kid2:base64key` (each key 32 bytes: AES-256). */
export function parseSecretKeys(text: string): SecretKeyConfig[] {
  const entries = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('lists no key (expected kid:base64key[,kid2:base64key])');
  const seen = new Set<string>();
  return entries.map((entry) => {
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    const key = entry.slice(at + 1);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error('each entry must be kid:base64key, the kid letters, digits, - or _ (at most 32)');
    if (seen.has(id)) throw new Error(`key id "${id}" is listed twice`);
    seen.add(id);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length !== 32) {
      throw new Error(`key "${id}" must be 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    }
    return { id, key };
  });
}

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
    /** How long ingress and admin keep a key's owner (and ingress a clinic's ingress limits) while changes may go unheard: no listening connection (down, admin). */
    AUTH_CACHE_TTL: duration('5s'),
    /**
     * How long ingress keeps them while it hears every change (a trigger's NOTIFY forgets the clinic at commit):
     * a safety net, not the mechanism. Not above AUTH_CACHE_TTL (e.g. 0): ingress does not listen and keeps them for AUTH_CACHE_TTL.
     */
    AUTH_CACHE_MAX_AGE: duration('5m'),

    INGRESS_BODY_LIMIT: z
      .string()
      .default('256KiB')
      .transform((v) => parseBytes(v)),
    /** The whole request (headers and body) must arrive within this; slower clients get a 408. */
    INGRESS_REQUEST_TIMEOUT: duration('10s'),
    /** Events per second per clinic at ingress (token bucket, 429 above it); 0 = off. An operator may set a clinic's own. */
    INGRESS_RATE_LIMIT: z.coerce.number().min(0).default(0),
    /** Bucket size: events a clinic may send at once; 0 = one second's worth of INGRESS_RATE_LIMIT (at least 1). */
    INGRESS_RATE_BURST: z.coerce.number().int().min(0).default(0),
    DEDUPE_TIMEOUT: duration('2s'),
    /** How long ingress holds a claim's completion for the next claim to carry it (one statement in dedupe for both), before sending it alone. */
    DEDUPE_COMPLETION_LINGER: duration('200ms'),
    PUBLISH_TIMEOUT: duration('3s'),

    DEDUPE_TTL: duration('24h'),
    /** The sender's (Nimbus's) retry schedule: DEDUPE_TTL must outlast it (see senderRetrySpanMs). */
    SENDER_RETRY_SCHEDULE: schedule('1m,5m,15m,1h'),
    DEDUPE_LEASE: duration('30s').refine(
      (ms) => ms <= MAX_CLAIM_LEASE_MS,
      `must be at most 1h (${MAX_CLAIM_LEASE_MS} ms): a claim whose claimer crashed holds its key that long, the sender's retries answered 409`,
    ),
    DEDUPE_CLEANUP_INTERVAL: duration('1m'),

    RETRY_SCHEDULE: schedule('1m,5m,15m,1h'),
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
    /**
     * How long fan-out holds the store of an event that queues deliveries (they wait for its commit: ordered,
     * behind queued work, without room) for other events to share its commit (0: no wait).
     */
    DELIVERY_STORE_WINDOW: duration('25ms'),
    /**
     * How long fan-out holds the store of events whose deliveries all went straight out (only the record and
     * the message's ack wait for the commit) for other events to share it; never less than DELIVERY_STORE_WINDOW.
     */
    DELIVERY_RECORD_WINDOW: duration('100ms'),
    /** Fan-out's memory of each clinic's subscribers, invalidated by NOTIFY on every change; the TTL is a safety net, 0 turns it off. */
    SUBSCRIBER_CACHE_TTL: duration('30s'),
    ALLOW_INSECURE_SUBSCRIBER_URLS: bool(false),
    /** Comma-separated CIDRs that are allowed even in strict mode (e.g. a mesh-internal receiver). */
    SUBSCRIBER_ALLOWED_CIDRS: z.string().default(''),

    METRICS_CLINIC_LABEL: bool(false),

    /** Data keys that encrypt subscriber secrets at rest: `kid:base64key,...` (dev key unless production). */
    SECRETS_KEYS: z.string().optional().pipe(z.union([z.undefined(), parsed('', parseSecretKeys)])),
    /** The key id new values are encrypted under; may be left out when SECRETS_KEYS holds one key. */
    SECRETS_ACTIVE_KEY: z.string().optional(),

    /** Succeeded deliveries (with their attempts) and events with no delivery left are deleted after this. */
    RETENTION_DELIVERED: duration('30d'),
    /** Dead letters, and the deliveries of deleted subscribers, are deleted after this. */
    RETENTION_DEAD: duration('90d'),
    /** Audit entries are deleted after this. */
    RETENTION_AUDIT: duration('365d'),
    /** How often the admin app's retention sweeper runs; 0 = never in this process. */
    RETENTION_INTERVAL: duration('1m'),
    /** Rows deleted per statement (each statement is one short transaction). */
    RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),

    /** How long an `Idempotency-Key` of an admin POST is remembered. */
    ADMIN_IDEMPOTENCY_TTL: duration('24h'),

    /** Per-clinic ceilings (an operator may override them per clinic): live subscribers of one clinic. */
    CLINIC_MAX_SUBSCRIBERS: z.coerce.number().int().min(1).max(100_000).default(50),
    /** Highest `max_in_flight` a subscriber may ask for. */
    CLINIC_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1000).default(50),
    /** Longest `timeout_ms` a subscriber may ask for. */
    CLINIC_MAX_TIMEOUT: duration('15s'),
  })
  .transform((c, ctx) => {
    const production = c.NODE_ENV === 'production';
    for (const name of ['ADMIN_TOKEN', 'KEY_PEPPER', 'SECRETS_KEYS'] as const) {
      if (production && !c[name]) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: 'is required when NODE_ENV=production' });
      }
    }
    const secretKeys = c.SECRETS_KEYS ?? parseSecretKeys(DEV_SECRETS_KEYS);
    const activeKey = c.SECRETS_ACTIVE_KEY ?? (secretKeys.length === 1 ? secretKeys[0]!.id : undefined);
    if (activeKey === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['SECRETS_ACTIVE_KEY'], message: 'is required when SECRETS_KEYS holds more than one key' });
    } else if (!secretKeys.some((k) => k.id === activeKey)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['SECRETS_ACTIVE_KEY'], message: `"${activeKey}" is not a key id of SECRETS_KEYS` });
    }
    refuseUnsafeCombinations(c, ctx);
    return {
      ...c,
      ADMIN_TOKEN: c.ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
      KEY_PEPPER: c.KEY_PEPPER ?? DEV_KEY_PEPPER,
      SECRETS_KEYS: secretKeys,
      SECRETS_ACTIVE_KEY: activeKey ?? '',
    };
  });

type Parsed = {
  DEDUPE_TTL: number;
  SENDER_RETRY_SCHEDULE: number[];
  DELIVERY_TIMEOUT: number;
  DELIVERY_LEASE: number;
  DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER: number;
  CLINIC_MAX_IN_FLIGHT: number;
  CLINIC_MAX_TIMEOUT: number;
};

/**
 * Settings that are each valid alone but wrong together, refused at start:
 * - a delivery lease shorter than twice the longest attempt lets a second worker take a delivery whose
 *   first attempt is still running, and the receiver gets it twice (svix-webhooks PR #2181);
 * - an idempotency claim that expires before the sender stops retrying turns a late retry into a new
 *   event;
 * - a default above its own ceiling would give every subscriber that sets nothing more than the ceiling.
 */
function refuseUnsafeCombinations(c: Parsed, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
  const longestAttempt = Math.max(c.DELIVERY_TIMEOUT, c.CLINIC_MAX_TIMEOUT);
  if (c.DELIVERY_LEASE < 2 * longestAttempt) {
    issue(
      'DELIVERY_LEASE',
      `must be at least twice the longest attempt (DELIVERY_TIMEOUT ${c.DELIVERY_TIMEOUT} ms, CLINIC_MAX_TIMEOUT ${c.CLINIC_MAX_TIMEOUT} ms): ` +
        `a lease that runs out while an attempt is still under way lets a second worker deliver it again`,
    );
  }
  const span = senderRetrySpanMs(c.SENDER_RETRY_SCHEDULE);
  if (c.DEDUPE_TTL < span) {
    issue(
      'DEDUPE_TTL',
      `must be at least the sender's retry span (${span} ms: SENDER_RETRY_SCHEDULE plus ${SENDER_REQUEST_TIMEOUT_MS} ms per attempt), ` +
        'or a late retry of an event is published again as a new one',
    );
  }
  if (c.CLINIC_MAX_TIMEOUT < c.DELIVERY_TIMEOUT) {
    issue('CLINIC_MAX_TIMEOUT', `must be at least DELIVERY_TIMEOUT (${c.DELIVERY_TIMEOUT} ms), the timeout of subscribers that set none`);
  }
  if (c.CLINIC_MAX_IN_FLIGHT < c.DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER) {
    issue(
      'CLINIC_MAX_IN_FLIGHT',
      `must be at least DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER (${c.DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER}), the limit of subscribers that set none`,
    );
  }
}

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
