#!/usr/bin/env node
/**
 * The one command line of Switchyard (see docs/ARCHITECTURE.md):
 *   switchyard setup                              migrations + JetStream streams and consumers (idempotent)
 *   switchyard ingress|dedupe|fanout|admin        one app (what a container runs)
 *   switchyard all                                setup, then the four apps, restarted if one exits unexpectedly
 *   switchyard reencrypt-secrets                  re-encrypts every stored secret under SECRETS_ACTIVE_KEY (docs/OPERATIONS.md)
 * The app may also be named by SWITCHYARD_APP.
 */
import './launcher-tracing';
import { ChildProcess, fork } from 'node:child_process';
import { AppConfig, EXIT_CONFIG, fanoutDrainMs, loadConfigOrExit } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { MessagingLog, connectNats, ensureStreams, redactNatsUrl, streamSettingsFrom } from '@switchyard/messaging';
import { createDataSource, highestStoredSequence, redactUrl, reencryptSecrets, runMigrations } from '@switchyard/persistence';
import type { DataSource } from 'typeorm';
import { KeyRing } from '@switchyard/secrets';
import { nodeFlagsFor } from './node-flags';

const APPS = ['dedupe', 'ingress', 'fanout', 'admin'] as const;
type App = (typeof APPS)[number];

/** How long set-up waits for NATS to answer (to start, to elect a leader) before it gives up. */
const SETUP_WAIT_MS = 60_000;

function line(level: string, message: string, fields: object = {}) {
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), app: 'switchyard', ...fields, msg: message })}\n`);
}

function say(message: string) {
  line('info', message);
}

/** Set-up's retries, as JSON lines like the apps' own. */
function setupLog() {
  return {
    info: (fields: object, message: string) => line('info', message, fields),
    warn: (fields: object, message: string) => line('warn', message, fields),
    error: (fields: object, message: string) => line('error', message, fields),
  } as unknown as MessagingLog;
}

function fail(message: string, code = 1): never {
  process.stderr.write(`switchyard: ${message}\n`);
  process.exit(code);
}

export async function setup(config: AppConfig): Promise<void> {
  let ran: string[];
  try {
    ran = await runMigrations({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolSize: 1, applicationName: 'switchyard-setup' });
  } catch (err) {
    fail(
      `cannot prepare Postgres at ${redactUrl(config.DATABASE_URL)}: ${(err as Error).message}\n` +
        '  Start Postgres (e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start`) or set DATABASE_URL. docker compose publishes its\n' +
        '  Postgres and NATS on other host ports, with their own user and database:\n' +
        '    docker compose up -d postgres nats\n' +
        '    DATABASE_URL=postgres://switchyard:switchyard@127.0.0.1:15432/switchyard NATS_URL=nats://127.0.0.1:14222 npm start',
    );
  }
  say(ran.length ? `migrations applied: ${ran.join(', ')}` : 'database schema up to date');
  // NATS may still be starting (compose, a Kubernetes rollout) or electing its meta leader: wait for it.
  const log = setupLog();
  let nc;
  try {
    nc = await connectNats(config.NATS_URL, 'switchyard-setup', { waitMs: SETUP_WAIT_MS, log });
  } catch (err) {
    fail((err as Error).message);
  }
  try {
    await ensureStreams(nc, subjectsFor(config.NATS_PREFIX), streamSettingsFrom(config), {
      waitMs: SETUP_WAIT_MS,
      log,
      // A stream created anew numbers on past the events Postgres holds (its NATS store was lost, say).
      firstSequence: () => withDataSource(config, 'switchyard-setup', async (ds) => (await highestStoredSequence(ds)) + 1),
    });
  } catch (err) {
    fail(
      `cannot create JetStream streams at ${redactNatsUrl(config.NATS_URL)}: ${(err as Error).message} ` +
        `(is JetStream enabled? start nats-server with -js; with STREAM_REPLICAS=${config.STREAM_REPLICAS}, at least that many servers must be up)`,
    );
  } finally {
    await nc.close();
  }
  say(`JetStream stream ${subjectsFor(config.NATS_PREFIX).inboundStream} ready`);
}

/** Re-encrypts the stored secrets under the active key; exits 1 when some could not be read with any key. */
async function reencrypt(config: AppConfig): Promise<void> {
  await withDataSource(config, 'switchyard-reencrypt', async (ds) => {
    const report = await reencryptSecrets(ds, KeyRing.fromConfig(config));
    say(
      `re-encrypted under key "${config.SECRETS_ACTIVE_KEY}": ${report.subscribers} subscriber(s), ${report.idempotencyAnswers} Idempotency-Key answer(s); ` +
        `subscriber secrets by key now ${JSON.stringify(report.subscriberSecretsByKey)}`,
    );
    if (report.unreadable.length > 0) {
      fail(`${report.unreadable.length} value(s) are under a key SECRETS_KEYS does not hold (subscribers ${report.unreadable.join(', ')}); add that key and run again`);
    }
  });
}

/** Runs `work` on a one-connection DataSource, closed after it; exits 1 when Postgres cannot be reached. */
async function withDataSource<T>(config: AppConfig, applicationName: string, work: (ds: DataSource) => Promise<T>): Promise<T> {
  const ds = await createDataSource({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolSize: 1, applicationName })
    .initialize()
    .catch((err: Error) => fail(`cannot reach Postgres at ${redactUrl(config.DATABASE_URL)}: ${err.message}`));
  try {
    return await work(ds);
  } finally {
    await ds.destroy();
  }
}

type Starter = (config: AppConfig) => Promise<unknown>;

/** Loads only the app asked for (require, so the others' modules are never loaded into this process). */
async function runApp(app: App, config: AppConfig): Promise<void> {
  const starters: Record<App, () => Starter> = {
    ingress: () => require('../apps/ingress/src/main').startIngress,
    dedupe: () => require('../apps/dedupe/src/main').startDedupe,
    fanout: () => require('../apps/fanout/src/main').startFanout,
    admin: () => require('../apps/admin/src/main').startAdmin,
  };
  try {
    await starters[app]()(config);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (e.code !== 'EADDRINUSE') throw err;
    // Not a crash a restart cures: another Switchyard, or another server, holds the port.
    const vars = Object.entries(config).filter(([k, v]) => k.endsWith('_PORT') && v === e.port).map(([k]) => k);
    fail(
      `${app} cannot listen on ${e.address ?? config.HTTP_HOST}:${e.port}: the port is in use (another Switchyard, or another server). ` +
        `Stop what holds it (\`ss -ltnp 'sport = :${e.port}'\`) or set ${vars.join(' / ') || 'its port variable'} to a free port.`,
      EXIT_CONFIG,
    );
  }
}

/**
 * Runs the four apps as child processes and restarts one that exits unexpectedly, with backoff. Stopped, it
 * waits for them as long as fan-out's drain may take (fanoutDrainMs: an attempt under way ends and is
 * recorded) and a few seconds more, then exits whatever is left.
 */
function supervise(config: AppConfig): void {
  const children = new Map<App, ChildProcess>();
  let stopping = false;
  let exitCode = 0;
  const start = (app: App, restarts: number) => {
    // The app's own flags last: the supervisor may run with the image's (`docker run … all`), which V8 would
    // otherwise read after fan-out's and keep.
    const child = fork(process.argv[1]!, [app], { stdio: 'inherit', execArgv: [...process.execArgv, ...nodeFlagsFor(app)] });
    children.set(app, child);
    say(`${app} started (pid ${child.pid})`);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      children.delete(app);
      if (stopping) {
        if (children.size === 0) process.exit(exitCode);
        return;
      }
      if (code === EXIT_CONFIG) {
        // Restarting cannot help; the other apps are stopped too, not left running without this process.
        process.stderr.write(`switchyard: ${app} refused its configuration or its port; fix it and start again\n`);
        stop('configuration', EXIT_CONFIG);
        return;
      }
      // A process that ran for a while starts over with a short delay; one that keeps crashing backs off.
      const attempt = Date.now() - startedAt > 30_000 ? 0 : restarts + 1;
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      say(`${app} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => !stopping && start(app, attempt), delay);
    });
  };
  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    say(`${reason}: stopping all apps`);
    if (children.size === 0) process.exit(exitCode);
    for (const child of children.values()) child.kill('SIGTERM');
    setTimeout(() => process.exit(exitCode), fanoutDrainMs(config) + 5_000).unref();
  };
  for (const app of APPS) start(app, 0);
  // Not `process.on(signal, stop)`: Node passes the signal's number after its name, which became the exit code.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal));
}

async function main() {
  const command = process.argv[2] ?? process.env.SWITCHYARD_APP;
  const config = loadConfigOrExit();
  if (command === 'setup') {
    await setup(config);
  } else if (command === 'reencrypt-secrets') {
    await reencrypt(config);
  } else if (command === 'all') {
    await setup(config);
    supervise(config);
    say(`Switchyard is starting: ingress http://127.0.0.1:${config.INGRESS_PORT}/webhooks/nimbus, admin http://127.0.0.1:${config.ADMIN_PORT}/docs`);
  } else if (APPS.includes(command as App)) {
    await runApp(command as App, config);
  } else {
    fail(`usage: switchyard setup | all | reencrypt-secrets | ${APPS.join(' | ')}   (or SWITCHYARD_APP=<app>)`, 64);
  }
}

main().catch((err) => fail(`${(err as Error).message}`));
