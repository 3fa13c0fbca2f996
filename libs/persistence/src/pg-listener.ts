import { Client } from 'pg';

export interface PgListenerOptions {
  /** Opens the connection that LISTENs: its own, outside the pool. */
  connect: () => Client;
  /** Delay before listening again once the connection is lost. */
  retryMs?: number;
}

/**
 * One connection of a process that LISTENs on the channels its parts need (subscriber changes, due
 * deliveries), and reconnects for ever. Each part registers a handler per channel and is told when
 * notifications start or stop being heard: while they are not, it must not rely on them.
 */
export class PgListener {
  private readonly handlers = new Map<string, Array<(payload: string) => void>>();
  private readonly watchers: Array<(listening: boolean, err?: Error) => void> = [];
  private client?: Client;
  private listening = false;
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;

  constructor(private readonly options: PgListenerOptions) {}

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

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.setListening(false);
    await client?.end().catch(() => undefined);
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
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${channel}`);
      if (this.client === client) this.setListening(true);
    } catch (err) {
      this.lost(client, err as Error);
    }
  }

  private lost(client: Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
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

/** Splits a `<schema>:<rest>` notification payload; null when it is about another schema. */
export function payloadFor(schema: string, payload: string): string | null {
  const at = payload.indexOf(':');
  return payload.slice(0, at) === schema ? payload.slice(at + 1) : null;
}
