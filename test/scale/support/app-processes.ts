import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFlagsFor } from '../../../scripts/node-flags';

export type AppName = 'ingress' | 'dedupe' | 'fanout' | 'admin';

const ROOT = join(__dirname, '..', '..', '..');

/**
 * Compiles apps, libs and scripts once with SWC into `<repo>/dist/<name>` (inside the repo, so that
 * node_modules resolves), the way `npm run build` does: every process then starts from JavaScript in
 * about a second instead of compiling the sources again. Returns the directory.
 */
export function buildOnce(name: string): string {
  const dir = join(ROOT, 'dist', name);
  rmSync(dir, { recursive: true, force: true });
  const swc = spawnSync(join(ROOT, 'node_modules/.bin/swc'), ['apps', 'libs', 'scripts', '-d', dir, '--ignore', '**/*.spec.ts', '--copy-files', '-q'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (swc.status !== 0) throw new Error('swc build failed');
  cpSync(join(ROOT, 'proto'), join(dir, 'proto'), { recursive: true });
  return dir;
}

/** Runs `switchyard setup` (migrations, stream and consumer) from the build; resolves with its output. */
export function runSetup(buildDir: string, env: Record<string, string>, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(buildDir, 'scripts/switchyard.js'), 'setup'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout!.on('data', (d) => (output += d));
    proc.stderr!.on('data', (d) => (output += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`switchyard setup exited with ${code}:\n${output}`));
    });
  });
}

interface Running {
  app: AppName;
  env: Record<string, string>;
  /** `/readyz` of the process. */
  readyUrl: string;
  proc?: ChildProcess;
}

/**
 * App processes started from the build with `node dist/…/scripts/switchyard.js <app>` (what a container
 * runs), each with its own ports and a log file in `logDir`. A process is started when its `/readyz`
 * answers 200; it can be killed (-9) and started again with the same settings.
 */
export class AppProcesses {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly buildDir: string,
    private readonly logDir: string,
    private readonly baseEnv: Record<string, string>,
  ) {}

  logFile(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  pid(name: string): number | undefined {
    return this.running.get(name)?.proc?.pid;
  }

  /** Starts `name` (a new one with `app`, `env` and `readyUrl`, or again with its earlier settings). */
  async start(name: string, app?: AppName, env: Record<string, string> = {}, readyUrl = ''): Promise<void> {
    const known = this.running.get(name);
    const r: Running = known ?? { app: app!, env: { ...this.baseEnv, ...env }, readyUrl };
    this.running.set(name, r);
    const log = openSync(this.logFile(name), 'a');
    const proc = spawn(process.execPath, [...nodeFlagsFor(r.app), join(this.buildDir, 'scripts/switchyard.js'), r.app], {
      env: { ...process.env, ...r.env },
      stdio: ['ignore', log, log],
    });
    r.proc = proc;
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      exited = signal ?? `code ${code}`;
      if (r.proc === proc) r.proc = undefined;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`${name} exited (${exited}) before it was ready; see ${this.logFile(name)}`);
      const ok = await fetch(r.readyUrl, { signal: AbortSignal.timeout(2_000) }).then((res) => res.status === 200, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`${name} not ready within 60 s; see ${this.logFile(name)}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  /** Stops `name` with `signal` (a crash by default) and waits until it is gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.running.get(name)?.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await gone;
  }

  /** Stops every process: SIGTERM, then SIGKILL for any still there after 10 s. */
  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.running.keys()].map(async (name) => {
        const proc = this.running.get(name)?.proc;
        if (!proc) return;
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await this.kill(name, 'SIGTERM');
        clearTimeout(timer);
      }),
    );
  }
}
