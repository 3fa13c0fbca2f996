import type { Socket } from 'node:net';
import { Client } from 'pg';

/**
 * How often the listening connection is asked a round trip (`SELECT 1`) while it listens. A Postgres that
 * stops answering without closing the connection (a failover's old primary gone, a network that drops
 * packets, a frozen host) emits nothing on it: without asking, the process believed it was listening until
 * the kernel gave up on the socket, and its caches kept what they had for as long as they trust notifications
 * (ingress: AUTH_CACHE_MAX_AGE, 5 min, so a revoked key kept working). One statement per interval per
 * process, whatever the traffic: nothing at rest worth counting.
 */
export const LISTEN_PROBE_INTERVAL_MS = 5_000;

/**
 * How long that round trip (and the LISTEN statement when the connection is opened) may take: `SELECT 1`
 * answers in a millisecond, and one unanswered after 3 s is on a connection that stopped answering (as
 * LOOKUP_TIMEOUT_MS). The connection is then given up, watchers are told notifications are not heard, and a
 * new one is opened. So a silent server is noticed within LISTEN_PROBE_INTERVAL_MS + LISTEN_PROBE_TIMEOUT_MS.
 */
export const LISTEN_PROBE_TIMEOUT_MS = 3_000;

/** TCP keepalive's first probe after this long idle, where the connect factory did not turn keepalive on. */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

export interface PgListenerOptions {
  /** Opens the connection that LISTENs: its own, outside the pool. Should bound its connect (`connectionTimeoutMillis`). */
  connect: () => Client;
  /** Delay before listening again once the connection is lost. */
  retryMs?: number;
  /** LISTEN_PROBE_INTERVAL_MS unless set (tests). */
  probeIntervalMs?: number;
  /** LISTEN_PROBE_TIMEOUT_MS unless set (tests). */
  probeTimeoutMs?: number;
}

/**
 * One connection of a process that LISTENs on the channels its parts need (subscriber changes, due
 * deliveries), and reconnects for ever. Each part registers a handler per channel and is told when
 * notifications start or stop being heard: while they are not, it must not rely on them. While listening,
 * the connection is asked a round trip every LISTEN_PROBE_INTERVAL_MS; one unanswered within
 * LISTEN_PROBE_TIMEOUT_MS counts as a lost connection, like an error or its end.
 */
export class PgListener {
  private readonly handlers = new Map<string, Array<(payload: string) => void>>();
  private readonly watchers: Array<(listening: boolean, err?: Error) => void> = [];
  private client?: Client;
  private listening = false;
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;
  /** The next probe while listening, or the deadline of a round trip under way. */
  private probeTimer?: NodeJS.Timeout;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: PgListenerOptions) {
    this.probeIntervalMs = options.probeIntervalMs ?? LISTEN_PROBE_INTERVAL_MS;
    this.probeTimeoutMs = options.probeTimeoutMs ?? LISTEN_PROBE_TIMEOUT_MS;
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Calls `handler` with the payload of every notification on `channel` (register before `start`). */
  on(channel: string, handler: (payload: string) => void): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  /** Calls `watcher` whenever notifications start (true) or stop (false, with the reason) being heard. */
  watch(watcher: (listening: boolean, err?: Error) => void): void {
    this.watchers.push(watcher);
  }

  /** Starts listening; resolves once the first attempt succeeded or failed (it is retried either way). */
  async start(): Promise<void> {
    if (!this.stopped || this.handlers.size === 0) return;
    this.stopped = false;
    await this.listen();
  }

  /**
   * Stops listening and closes the connection: politely, or at once if it does not close within the probe
   * timeout. Watchers are not told: the process is stopping, and each would warn that it no longer hears
   * changes at every deploy.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    if (!client) return;
    client.on('error', () => undefined);
    let timer!: NodeJS.Timeout;
    const closed = await Promise.race([
      client.end().then(() => true, () => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.probeTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (!closed) socketOf(client)?.destroy();
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = this.options.connect();
    this.client = client;
    client.on('notification', (n) => this.handlers.get(n.channel)?.forEach((h) => h(n.payload ?? '')));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the listening connection ended')));
    try {
      await client.connect();
      // Against a Postgres that goes silent half-way through a connection, as well as later.
      if (!keepAliveOn(client)) socketOf(client)?.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
      const channels = [...this.handlers.keys()].map((channel) => `LISTEN ${channel}`).join('; ');
      await this.answered(client, client.query(channels), 'LISTEN');
      if (this.client !== client) return;
      this.setListening(true);
      this.probeLater(client);
    } catch (err) {
      this.lost(client, err as Error);
    }
  }

  /** The next probe, one interval from now (not from each notification: at rest it costs one round trip per interval). */
  private probeLater(client: Client): void {
    this.probeTimer = setTimeout(() => void this.probe(client), this.probeIntervalMs);
    this.probeTimer.unref();
  }

  private async probe(client: Client): Promise<void> {
    if (this.client !== client) return;
    try {
      await this.answered(client, client.query('SELECT 1'), 'a probe');
      if (this.client === client) this.probeLater(client);
    } catch (err) {
      this.lost(client, err as Error);
    }
  }

  /** `query`'s answer; if it has none within the probe timeout, the connection is lost (and this rejects). */
  private answered<T>(client: Client, query: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.probeTimer = setTimeout(() => {
        const err = new Error(`the listening connection did not answer ${what} within ${this.probeTimeoutMs} ms`);
        this.lost(client, err);
        reject(err);
      }, this.probeTimeoutMs);
      this.probeTimer.unref();
      const timer = this.probeTimer;
      query.then(
        (res) => {
          clearTimeout(timer);
          resolve(res);
        },
        (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * Gives the connection up at once: its socket is destroyed rather than ended, since a goodbye to a server
   * that stopped answering waits for an answer that never comes (and keeps the socket open meanwhile).
   */
  private lost(client: Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearTimeout(this.probeTimer);
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    socketOf(client)?.destroy();
    this.setListening(false, err);
    if (!this.stopped) {
      this.retryTimer = setTimeout(() => void this.listen(), this.options.retryMs ?? 1_000);
      this.retryTimer.unref();
    }
  }

  private setListening(listening: boolean, err?: Error): void {
    const changed = this.listening !== listening;
    this.listening = listening;
    if (changed || err) this.watchers.forEach((w) => w(listening, err));
  }
}

/** What node-postgres keeps of a client's connection (not in its types). */
interface ClientInternals {
  connection?: { stream?: Socket; _keepAlive?: boolean };
}

/** The client's socket. */
function socketOf(client: Client): Socket | undefined {
  return (client as unknown as ClientInternals).connection?.stream;
}

/** Whether the connect factory turned TCP keepalive on (`keepAlive: true`). */
function keepAliveOn(client: Client): boolean {
  return (client as unknown as ClientInternals).connection?._keepAlive === true;
}

/** Splits a `<schema>:<rest>` notification payload; null when it is about another schema. */
export function payloadFor(schema: string, payload: string): string | null {
  const at = payload.indexOf(':');
  return payload.slice(0, at) === schema ? payload.slice(at + 1) : null;
}
