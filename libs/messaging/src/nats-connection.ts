import { ConnectionOptions, NatsConnection, connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { NATS_BACKOFF, backoffDelay, pause } from './backoff';

export class NatsUnavailableError extends Error {
  readonly code = 'NATS_UNAVAILABLE';
}

/** What messaging logs through: the app's pino logger, or any object with these methods. */
export type MessagingLog = Pick<Logger, 'info' | 'warn' | 'error'>;

/**
 * Client options: every server of a comma-separated NATS_URL (the client also learns the cluster's other
 * servers from the one it reaches), and reconnecting for ever once connected, so a restarted or moved
 * server never ends the process; publishes fail fast meanwhile and ingress answers 503.
 */
export function natsConnectOptions(url: string, name: string): ConnectionOptions {
  return {
    servers: url.split(',').map((s) => s.trim()).filter(Boolean),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: false,
    timeout: 3_000,
    // Without this, every request (each JetStream publish) builds two Error objects up front just to keep
    // an async stack trace: ~7 % of ingress CPU at saturation, and garbage.
    noAsyncTraces: true,
  };
}

export interface ConnectNatsOptions {
  /** Keep trying (with backoff) for this long before giving up; 0 = one try of each server. */
  waitMs?: number;
  log?: MessagingLog;
}

/**
 * Connects to NATS (for set-up, scripts and tests; the apps use NatsLink, which never gives up). Retries
 * with backoff for `waitMs`, then fails with a message that says where and how to start NATS.
 */
export async function connectNats(url: string, name: string, options: ConnectNatsOptions = {}): Promise<NatsConnection> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect(natsConnectOptions(url, name));
    } catch (err) {
      const wait = backoffDelay(attempt, NATS_BACKOFF);
      if (Date.now() + wait > deadline) throw unavailable(url, err);
      options.log?.warn({ url: redactNatsUrl(url), attempt: attempt + 1, retry_in_ms: wait, err: { message: (err as Error).message } }, 'cannot reach NATS yet; retrying');
      await pause(wait);
    }
  }
}

export function unavailable(url: string, err: unknown): NatsUnavailableError {
  return new NatsUnavailableError(
    `cannot reach NATS at ${redactNatsUrl(url)} (${(err as Error).message}). Start it with JetStream enabled, e.g. ` +
      '`nats-server -js -sd /var/lib/nats-server` (or `npm run nats:cluster` for a local 3-server cluster), or set NATS_URL.',
  );
}

/** NATS_URL without credentials (`nats://user:***@host`, `nats://***@host` for a token), for logs and errors. */
export function redactNatsUrl(url: string): string {
  return url.replace(/\/\/([^@/,]*)@/g, (_m, auth: string) => (auth.includes(':') ? `//${auth.split(':')[0]}:***@` : '//***@'));
}
