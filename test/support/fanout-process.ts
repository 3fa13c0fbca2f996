import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { AppConfig } from '@switchyard/config';

const ROOT = join(__dirname, '..', '..');

/** Fan-out as a real child process (test/support/fanout-child.ts) with this config; resolves once it has started. */
export function spawnFanout(config: AppConfig): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'test/support/fanout-child.ts'], {
    cwd: ROOT,
    env: { ...process.env, SWITCHYARD_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fan-out child did not start in 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      // TEST_CHILD_LOGS=1 (with TEST_LOG_LEVEL) shows the child's log lines while debugging a spec.
      if (process.env.TEST_CHILD_LOGS === '1') process.stderr.write(chunk);
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`fan-out child exited with ${code} before it was ready`)));
  });
}

/** Kills a child with SIGKILL (no shutdown hook runs) and waits until it is gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
