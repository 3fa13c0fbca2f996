import { NatsConnection, connect } from '@nats-io/transport-node';
import { BackoffOptions, NATS_BACKOFF, backoffDelay, pause } from './backoff';
import { MessagingLog, NatsUnavailableError, natsConnectOptions, redactNatsUrl } from './nats-connection';

export type NatsLinkState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Something fed by the link that has its own idea of ready (a durable consumer attached or not). */
export interface NatsDependent {
  readonly name: string;
  isReady(): boolean;
}

export interface NatsLinkOptions {
  url: string;
  /** Connection name the servers show (`switchyard-fanout`). */
  name: string;
  log: MessagingLog;
  backoff?: BackoffOptions;
}

/**
 * An app's connection to NATS, made in the background: the app starts (and serves /readyz, 503 naming
 * nats) while NATS is unreachable or still electing, and connects when NATS is there — the first time
 * included, retrying with backoff for ever. Once connected the client reconnects by itself; should the
 * connection ever close for good, the link connects again. Publishers take `current()` and fail fast when
 * there is none; consumers wait on `connection()`.
 */
export class NatsLink {
  private nc?: NatsConnection;
  private linkState: NatsLinkState = 'connecting';
  private readonly stopping = new AbortController();
  private waiters: Array<(nc: NatsConnection) => void> = [];
  private readonly dependents: NatsDependent[] = [];
  private running?: Promise<void>;

  constructor(private readonly options: NatsLinkOptions) {}

  /** Starts connecting in the background; returns at once. */
  start(): this {
    this.running ??= this.run();
    return this;
  }

  get state(): NatsLinkState {
    return this.linkState;
  }

  /** Connected right now (not before the first connection, not while the client reconnects). */
  isConnected(): boolean {
    return this.linkState === 'connected';
  }

  /** Connected, and everything registered with `depend` (the app's consumers) is ready too. */
  isReady(): boolean {
    return this.isConnected() && this.dependents.every((d) => d.isReady());
  }

  /** Counts `dependent` in `isReady()` (a consumer that is not attached makes the app not ready). */
  depend(dependent: NatsDependent): void {
    this.dependents.push(dependent);
  }

  /** The connection, while there is one (also while it reconnects: the client buffers meanwhile). */
  current(): NatsConnection | undefined {
    return this.nc;
  }

  /** The connection; throws NatsUnavailableError when there is none yet (for fail-fast publishes). */
  require(): NatsConnection {
    if (!this.nc) throw new NatsUnavailableError(`not connected to NATS at ${redactNatsUrl(this.options.url)} yet`);
    return this.nc;
  }

  /** Waits for a connection; rejects if the link is closed first. */
  connection(): Promise<NatsConnection> {
    if (this.nc) return Promise.resolve(this.nc);
    if (this.linkState === 'closed') return Promise.reject(new NatsUnavailableError('the NATS link is closed'));
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      this.stopping.signal.addEventListener('abort', () => reject(new NatsUnavailableError('the NATS link is closed')), { once: true });
    });
  }

  /** Stops connecting, and drains the connection (pending publishes and acks go out first). */
  async close(): Promise<void> {
    this.stopping.abort();
    this.linkState = 'closed';
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { url, name, log } = this.options;
    const where = redactNatsUrl(url);
    const signal = this.stopping.signal;
    for (let attempt = 0; !signal.aborted; ) {
      let nc: NatsConnection;
      try {
        nc = await connect(natsConnectOptions(url, name));
      } catch (err) {
        const wait = backoffDelay(attempt++, this.options.backoff ?? NATS_BACKOFF);
        log.warn({ nats: where, attempt, retry_in_ms: wait, err: { message: (err as Error).message } }, 'cannot reach NATS; retrying');
        await pause(wait, signal);
        continue;
      }
      if (signal.aborted) {
        await nc.close();
        return;
      }
      attempt = 0;
      this.nc = nc;
      this.linkState = 'connected';
      log.info({ nats: where, server: nc.getServer() }, 'connected to NATS');
      for (const resolve of this.waiters.splice(0)) resolve(nc);
      void this.follow(nc);
      const err = await nc.closed();
      if (signal.aborted) return;
      this.nc = undefined;
      this.linkState = 'connecting';
      log.error({ nats: where, err: err ? { message: err.message } : undefined }, 'NATS connection closed; connecting again');
    }
  }

  /** Tracks disconnects and reconnects of one connection, for readiness and the log. */
  private async follow(nc: NatsConnection): Promise<void> {
    const { log } = this.options;
    for await (const s of nc.status()) {
      if (this.nc !== nc) return;
      if (s.type === 'disconnect' && this.linkState === 'connected') {
        this.linkState = 'reconnecting';
        log.warn({ server: s.server }, 'lost the NATS server; reconnecting');
      } else if (s.type === 'reconnect') {
        this.linkState = 'connected';
        log.info({ server: s.server }, 'reconnected to NATS');
      }
    }
  }
}
