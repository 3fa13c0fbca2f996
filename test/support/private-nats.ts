import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    await waitForPort(this.port, true);
    return this;
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    const exited = new Promise((r) => this.proc!.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
    this.proc = undefined;
    await waitForPort(this.port, false);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

function waitForPort(port: number, open: boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const probe = () => {
      const socket = createConnection({ host: '127.0.0.1', port });
      const done = (isOpen: boolean) => {
        socket.destroy();
        if (isOpen === open) return resolve();
        if (Date.now() > deadline) return reject(new Error(`port ${port} did not become ${open ? 'open' : 'closed'}`));
        setTimeout(probe, 50);
      };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    };
    probe();
  });
}
