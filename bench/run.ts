/**
 * `npm run bench` — Switchyard's throughput, latency, CPU and memory on this machine, each next to a
 * baseline measured in the same run, and the goals of issue 17 as ratios. Not part of `npm test`. See
 * bench/README.md for what each phase measures and every knob.
 *
 * Every app runs as its own child process (compiled with SWC first), in a database of the bench's own
 * (`switchyard_bench`, so `pg_stat_statements` and the CPU meter count only its statements and backends),
 * on a schema and NATS prefix of the run's own (`bench_<timestamp>`); all removed at the end unless
 * BENCH_KEEP=1. Phases live in bench/phases/, one file each.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '@switchyard/config';
import { dropBenchDatabase, openBenchDatabase } from './lib/database';
import { capacityFigures } from './lib/capacity';
import { goalsOf } from './lib/goals';
import { log } from './lib/log';
import { StatementMeter } from './lib/pg-statements';
import { round1 } from './lib/procs';
import { report } from './lib/report';
import { Phase, loadSettings } from './lib/settings';
import { BenchStack } from './lib/stack';
import { baselinesPhase } from './phases/baselines';
import { PhaseContext, Results } from './phases/context';
import { deliveryBaselinePhase } from './phases/delivery-baseline';
import { e2ePhase } from './phases/e2e';
import { fanoutPhase } from './phases/fanout';
import { ingressPhase, warmUpIngress } from './phases/ingress';
import { kneePhase } from './phases/knee';
import { quietPhase } from './phases/quiet';
import { replicasPhase } from './phases/replicas';
import { steadyPhase } from './phases/steady';

const PHASE_RUNNERS: Record<Phase, (ctx: PhaseContext) => Promise<void>> = {
  baselines: baselinesPhase,
  ingress: ingressPhase,
  fanout: fanoutPhase,
  'delivery-baseline': deliveryBaselinePhase,
  replicas: replicasPhase,
  e2e: e2ePhase,
  knee: kneePhase,
  quiet: quietPhase,
  steady: steadyPhase,
};

const root = resolve(__dirname, '..');
const buildDir = join(root, 'dist', 'bench-build');

/** Compiles apps, libs and bench with SWC (path aliases rewritten by .swcrc; other files copied), plus proto/ and the request mix's fixtures next to it. */
function build() {
  rmSync(buildDir, { recursive: true, force: true });
  // Not the specs, nor the admin console's browser code (esbuild builds that, as `npm run build` does).
  const ignore = '**/*.spec.ts,apps/admin/console/**';
  const args = ['apps', 'libs', 'bench', '-d', buildDir, '-q', '--copy-files', '--ignore', ignore]; // --copy-files: the JSON libs read
  const swc = spawnSync(join(root, 'node_modules/.bin/swc'), args, { cwd: root, stdio: 'inherit' });
  if (swc.status !== 0) throw new Error('swc build failed');
  cpSync(join(root, 'proto'), join(buildDir, 'proto'), { recursive: true });
  cpSync(join(root, 'test/fixtures/nimbus'), join(buildDir, 'test/fixtures/nimbus'), { recursive: true });
}

async function main(): Promise<number> {
  const S = loadSettings(process.env);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '_').toLowerCase();
  const name = `bench_${stamp}`;
  const logDir = join(tmpdir(), `switchyard-${name}`);
  const config = loadConfig(process.env);
  mkdirSync(logDir, { recursive: true });
  log(`run ${name}, phases ${S.only.join(', ')}; child logs and profiles in ${logDir}`);
  build();

  const results: Results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: round1(totalmem() / 2 ** 30), node: process.version },
    settings: S,
  };
  const db = await openBenchDatabase(config.DATABASE_URL, S.database);
  const statements = await StatementMeter.open(db);
  if (statements.unavailable) log(`Postgres statements per delivery: n/a (${statements.unavailable})`);
  results.database = { name: db.name, createdByRun: db.created, statements: statements.unavailable ?? 'pg_stat_statements' };
  let stack: BenchStack | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await stack?.close();
      await statements.close();
      if (!S.keep) await dropBenchDatabase(config.DATABASE_URL, db).catch((err) => log(`could not drop ${db.name}: ${(err as Error).message}`));
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the apps and removing the run's schema, stream and database`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    stack = await BenchStack.open(name, S, config, db, logDir, buildDir);
    const ctx: PhaseContext = { S, stack, statements, results };
    await stack.start('dedupe');
    await stack.start('ingress');
    log('dedupe and ingress ready (fan-out not started)');
    await warmUpIngress(ctx);
    for (const phase of S.only) {
      const t0 = Date.now();
      try {
        await PHASE_RUNNERS[phase](ctx);
      } catch (err) {
        // One phase failing (an app that would not start, a timeout) leaves the others' figures worth keeping.
        log(`phase ${phase} failed: ${(err as Error).stack}`);
        (results.failed ??= {})[phase] = (err as Error).message;
      }
      (results.phaseSeconds ??= {})[phase] = Math.round((Date.now() - t0) / 1000);
    }
  } finally {
    await cleanUp();
  }

  results.goals = goalsOf(results, S.before);
  results.capacity = Object.fromEntries(capacityFigures(results));
  const file = join(root, 'bench/results', `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${report(results, results.goals)}\n`);
  log(`results written to ${file}`);
  return results.failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
