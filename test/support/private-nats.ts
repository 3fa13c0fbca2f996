import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from '../../scripts/nats-cluster';
import { freePort } from './free-port';

/** A private `nats-server -js` on a free loopback port with its own store, that a test may stop and restart. */
export class PrivateNats {
  private proc?: ChildProcess;
  private readonly storeDir = mkdtempSync(join(tmpdir(), 'switchyard-nats-'));
  port = 0;

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    this.proc = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], { stdio: 'ignore' });
    await waitForPort('127.0.0.1', this.port, true);
    return this;
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    const exited = new Promise((r) => this.proc!.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
    this.proc = undefined;
    await waitForPort('127.0.0.1', this.port, false);
  }

  /** Stops the server and empties its store: the next start is a brand-new NATS, without any stream. */
  async wipe(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
    mkdirSync(this.storeDir, { recursive: true });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
