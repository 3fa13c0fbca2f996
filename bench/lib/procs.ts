import { ChildProcess, fork } from 'node:child_process';
import { openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Child {
  name: string;
  proc: ChildProcess;
  port?: number;
  stop(): Promise<void>;
}

/** The tests' own helper: a free TCP port on loopback. */
export { freePort } from '../../test/support/free-port';

/** Sends `message` to a child and resolves with its answer of type `answer`. */
export function ask<T>(child: Child, message: object, answer: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== answer) return;
      child.proc.off('message', onMessage);
      child.proc.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`${child.name} exited with ${code}`));
    child.proc.on('message', onMessage);
    child.proc.once('exit', onExit);
    child.proc.send(message);
  });
}

/**
 * Forks a compiled bench script; resolves when it reports `ready` over IPC. Its stdout and stderr go
 * to `<logDir>/<name>.log` (the apps log JSON lines on stdout, as in production).
 */
export function startChild(
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  execArgv: string[] = [],
  timeoutMs = 30_000,
): Promise<Child> {
  const out = openSync(join(logDir, `${name}.log`), 'a');
  const proc = fork(script, args, { env, execArgv, stdio: ['ignore', out, out, 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms (see ${join(logDir, `${name}.log`)})`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready (see ${join(logDir, `${name}.log`)})`));
    });
    proc.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type !== 'ready') return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      resolve({
        name,
        proc,
        port: m.port,
        stop: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            const kill = setTimeout(() => proc.kill('SIGKILL'), 15_000);
            proc.once('exit', () => {
              clearTimeout(kill);
              done();
            });
            if (proc.connected) proc.send({ type: 'stop' });
            else proc.kill('SIGTERM');
          }),
      });
    });
  });
}

/** Current and peak (high-water mark) resident set size of a process, in MiB, from /proc. */
export function rssOf(pid: number | undefined): { rssMiB: number; peakMiB: number } | null {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssMiB: round1(kb('VmRSS') / 1024), peakMiB: round1(kb('VmHWM') / 1024) };
  } catch {
    return null;
  }
}

export const round1 = (n: number) => Math.round(n * 10) / 10;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The live heap after each full (mark-compact) GC, in MB, that an app started with `--trace-gc` logged
 * after byte `fromOffset` of its log: the figure that shows a leak, where RSS also moves with how much heap
 * V8 chooses to keep committed.
 */
export function liveHeapAfterFullGcs(logFile: string, fromOffset: number): number[] {
  let text: string;
  try {
    text = readFileSync(logFile).subarray(fromOffset).toString('utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/g)].map((m) => Number(m[1]));
}

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
