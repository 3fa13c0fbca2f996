import { Server, Socket, createServer, connect } from 'node:net';
import { AddressInfo } from 'node:net';
import type { AppConfig } from '@switchyard/config';
import type { AppName, TestStack } from '../../support/stack';

/**
 * A TCP proxy a test controls, between the apps and a real server (Postgres). `unplug()` destroys every
 * open connection and refuses new ones (they are reset at once) until `plug()`.
 */
export class TcpProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private plugged = true;
  private paused = false;
  private readonly frozen = new Set<Socket>();
  connections = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (!this.plugged) {
        client.resetAndDestroy();
        return;
      }
      this.connections++;
      const upstream = connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        for (const s of [client, upstream]) {
          this.sockets.delete(s);
          this.frozen.delete(s);
        }
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
      if (this.paused) {
        client.pause();
        upstream.pause();
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `url` (a database URL) pointed at this proxy. */
  urlTo(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  unplug(): void {
    this.plugged = false;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  plug(): void {
    this.plugged = true;
  }

  /** Holds every byte in both directions (connections stay open, nothing gets through) until `resume()`. */
  pause(): void {
    this.paused = true;
    for (const s of this.sockets) s.pause();
  }

  /**
   * Holds every byte of the connections open now, for good, while new ones go through: a server that vanished
   * without closing its connections (a failover's old primary) behind an address that now reaches another.
   */
  freezeOpen(): void {
    for (const s of this.sockets) {
      s.pause();
      this.frozen.add(s);
    }
  }

  resume(): void {
    this.paused = false;
    for (const s of this.sockets) if (!this.frozen.has(s)) s.resume();
  }

  async stop(): Promise<void> {
    this.unplug();
    await new Promise((r) => this.server.close(r));
  }
}

/** Starts one app of the stack with its Postgres through `proxy`; the stack's other apps keep the direct connection. */
export async function startAppThrough(stack: TestStack, app: AppName, proxy: TcpProxy): Promise<void> {
  const config = stack.config as AppConfig & { DATABASE_URL: string };
  const direct = config.DATABASE_URL;
  config.DATABASE_URL = proxy.urlTo(direct);
  try {
    await stack.startApp(app);
  } finally {
    config.DATABASE_URL = direct;
  }
}
