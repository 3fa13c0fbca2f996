import { NatsConnection, connect } from '@nats-io/transport-node';

export class NatsUnavailableError extends Error {
  readonly code = 'NATS_UNAVAILABLE';
}

/**
 * Connects to NATS and keeps reconnecting for ever once connected (publishes fail fast meanwhile, and
 * ingress answers 503). The first connection fails with a message that says where and how to start NATS.
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url.split(','),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: false,
      timeout: 3_000,
      // Without this, every request (each JetStream publish) builds two Error objects up front just to keep
      // an async stack trace: ~7 % of ingress CPU at saturation, and garbage.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new NatsUnavailableError(
      `cannot reach NATS at ${url} (${(err as Error).message}). Start it with JetStream enabled, e.g. ` +
        '`nats-server -js -sd /var/lib/nats-server`, or set NATS_URL.',
    );
  }
}
