import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, statSync } from 'node:fs';
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
 * Runs `npm run bench` with `BENCH_ONLY=e2e` and this run's end-to-end rates and length in `BENCH_BEFORE_TREE`
 * (a checkout of the old engine with its own `npm ci` done), with this run's stack idle, and reads the results
 * JSON it wrote. Its own `BENCH_*` settings are not passed on: the old bench takes only what is set here.
 */
export async function runBeforeEngine(ctx: PhaseContext, tree: string, label: 'before' | 'after'): Promise<BeforeRun> {
  const { S, stack } = ctx;
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BENCH_')));
  // The old bench's `e2e` also ran its `steady` phase (120 s by default), which nothing here reads: 5 s of it.
  Object.assign(env, { BENCH_ONLY: 'e2e', BENCH_E2E_RATES: S.e2eRates.join(','), BENCH_E2E_SECONDS: String(S.e2eSeconds), BENCH_STEADY_SECONDS: '5' });
  const resultsDir = join(tree, 'bench/results');
  const started = Date.now();
  const logFile = join(stack.logDir, `before-engine-${label}.log`);
  log(`the old engine (${tree}), ${label} this run's e2e: BENCH_ONLY=e2e at ${S.e2eRates.join(', ')} events/s; its output in ${logFile}`);
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
    const out = createWriteStream(logFile);
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      killGroup(); // whatever it left behind: a bench that was killed does not stop its apps
      resolve(exitCode);
    });
  });
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
