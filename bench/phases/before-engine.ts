import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../lib/log';
import { PhaseContext } from './context';

/** One run of the old engine's own bench (`BENCH_ONLY=e2e`), taken beside this run's `e2e` phase. */
export interface BeforeRun {
  /** Right before or right after this run's e2e. */
  when: 'before' | 'after';
  /** Its results JSON. */
  file: string;
  /** Its Postgres CPU ms per delivery at each end-to-end rate (per event ÷ subscribers for runs without per-delivery figures). */
  postgresMsPerDelivery: Record<string, number>;
}

/**
 * The old engine's bench picks its apps' ports free and binds them a moment later; another process (this
 * run's own apps are idle, but the machine is shared) can take one in between, and its fan-out then dies
 * with `EADDRINUSE` (twice in 2026-12-01's full runs). Such a run says nothing about the old engine: it is
 * run once more, and any other failure is reported as it is.
 */
export async function runBeforeEngine(ctx: PhaseContext, tree: string, label: 'before' | 'after'): Promise<BeforeRun> {
  try {
    return await runBeforeEngineOnce(ctx, tree, label);
  } catch (err) {
    const logFile = beforeEngineLog(ctx, label);
    if (!readFileSync(logFile, 'utf8').includes('EADDRINUSE')) throw err;
    log(`the old engine's bench lost a port it had picked (EADDRINUSE, see ${logFile}); running it once more`);
    renameSync(logFile, `${logFile}.lost-port`);
    return runBeforeEngineOnce(ctx, tree, label);
  }
}

function beforeEngineLog(ctx: PhaseContext, label: 'before' | 'after'): string {
  return join(ctx.stack.logDir, `before-engine-${label}.log`);
}

/**
 * Runs `npm run bench` with `BENCH_ONLY=e2e` and this run's end-to-end rates and length in `BENCH_BEFORE_TREE`
 * (a checkout of the old engine with its own `npm ci` done), with this run's stack idle, and reads the results
 * JSON it wrote. Its own `BENCH_*` settings are not passed on: the old bench takes only what is set here.
 */
async function runBeforeEngineOnce(ctx: PhaseContext, tree: string, label: 'before' | 'after'): Promise<BeforeRun> {
  const { S } = ctx;
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BENCH_')));
  // The old bench's `e2e` also ran its `steady` phase (120 s by default), which nothing here reads: 5 s of it.
  Object.assign(env, { BENCH_ONLY: 'e2e', BENCH_E2E_RATES: S.e2eRates.join(','), BENCH_E2E_SECONDS: String(S.e2eSeconds), BENCH_STEADY_SECONDS: '5' });
  const resultsDir = join(tree, 'bench/results');
  const started = Date.now();
  const logFile = beforeEngineLog(ctx, label);
  log(`the old engine (${tree}), ${label} this run's e2e: BENCH_ONLY=e2e at ${S.e2eRates.join(', ')} events/s; its output in ${logFile}`);
  const out = createWriteStream(logFile);
  const written = new Promise<void>((resolve) => out.once('close', () => resolve()));
  const code = await new Promise<number | null>((resolve, reject) => {
    // Its own process group (npm, its bench, the apps that starts), killed whole if it hangs or this run ends first.
    const child = spawn('npm', ['run', 'bench'], { cwd: tree, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      log(`the old engine's bench ran past ${BEFORE_ENGINE_TIMEOUT_MS / 60_000} minutes: stopped`);
      killGroup();
    }, BEFORE_ENGINE_TIMEOUT_MS);
    process.once('exit', killGroup);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      killGroup(); // whatever it left behind: a bench that was killed does not stop its apps
      // Its last lines (an error, say) are read once its output closes: at most a few seconds later.
      const settle = setTimeout(() => resolve(exitCode), 5_000);
      child.once('close', () => {
        clearTimeout(settle);
        resolve(exitCode);
      });
    });
  });
  out.end();
  await written;
  const file = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(resultsDir, f))
    .filter((f) => statSync(f).mtimeMs >= started)
    .sort()
    .pop();
  if (code !== 0 || !file) throw new Error(`the old engine's bench in ${tree} exited ${code}${file ? '' : ' without a results file'} (see ${logFile})`);
  return { when: label, file, postgresMsPerDelivery: postgresPerDelivery(JSON.parse(readFileSync(file, 'utf8'))) };
}

/** Its `BENCH_ONLY=e2e` takes about a minute at the default rates; a run three times longer than the longest seen is stuck. */
const BEFORE_ENGINE_TIMEOUT_MS = 10 * 60_000;

/** Postgres CPU ms per delivery at each end-to-end rate of a results JSON (older ones: per event ÷ subscribers per clinic). */
export function postgresPerDelivery(results: Record<string, any>): Record<string, number> {
  const perClinic = results.settings?.subscribersPerClinic ?? 3;
  return Object.fromEntries(
    Object.entries((results.endToEnd ?? {}) as Record<string, any>).map(([rate, e]) => [
      rate,
      Math.round((e.cpu.msPerDelivery?.postgres ?? e.cpu.msPerEvent.postgres / perClinic) * 1000) / 1000,
    ]),
  );
}
