#!/usr/bin/env node
/**
 * The one command line of Switchyard (see docs/ARCHITECTURE.md):
 *   switchyard setup                              migrations + JetStream streams and consumers (idempotent)
 *   switchyard ingress|dedupe|fanout|admin        one app (what a container runs)
 *   switchyard all                                setup, then the four apps, restarted if one exits unexpectedly
 * The app may also be named by SWITCHYARD_APP.
 */
import './launcher-tracing';
import { ChildProcess, fork } from 'node:child_process';
import { AppConfig, EXIT_CONFIG, loadConfigOrExit } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { connectNats, ensureStreams, streamSettingsFrom } from '@switchyard/messaging';
import { redactUrl, runMigrations } from '@switchyard/persistence';

const APPS = ['dedupe', 'ingress', 'fanout', 'admin'] as const;
type App = (typeof APPS)[number];

function say(message: string) {
  process.stdout.write(`${JSON.stringify({ level: 'info', time: new Date().toISOString(), app: 'switchyard', msg: message })}\n`);
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
        '  Start Postgres (e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start`, or `docker compose up postgres`) or set DATABASE_URL.',
    );
  }
  say(ran.length ? `migrations applied: ${ran.join(', ')}` : 'database schema up to date');
  let nc;
  try {
    nc = await connectNats(config.NATS_URL, 'switchyard-setup');
  } catch (err) {
    fail((err as Error).message);
  }
  try {
    await ensureStreams(nc, subjectsFor(config.NATS_PREFIX), streamSettingsFrom(config));
  } catch (err) {
    fail(`cannot create JetStream streams at ${config.NATS_URL}: ${(err as Error).message} (is JetStream enabled? start nats-server with -js)`);
  } finally {
    await nc.close();
  }
  say(`JetStream stream ${subjectsFor(config.NATS_PREFIX).inboundStream} ready`);
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
  await starters[app]()(config);
}

/** Runs the four apps as child processes and restarts one that exits unexpectedly, with backoff. */
function supervise(): void {
  const children = new Map<App, ChildProcess>();
  let stopping = false;
  const start = (app: App, restarts: number) => {
    const child = fork(process.argv[1]!, [app], { stdio: 'inherit', execArgv: process.execArgv });
    children.set(app, child);
    say(`${app} started (pid ${child.pid})`);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      children.delete(app);
      if (stopping) {
        if (children.size === 0) process.exit(0);
        return;
      }
      if (code === EXIT_CONFIG) fail(`${app} refused its configuration; fix it and start again`, EXIT_CONFIG);
      // A process that ran for a while starts over with a short delay; one that keeps crashing backs off.
      const attempt = Date.now() - startedAt > 30_000 ? 0 : restarts + 1;
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      say(`${app} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => !stopping && start(app, attempt), delay);
    });
  };
  for (const app of APPS) start(app, 0);
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping all apps`);
    for (const child of children.values()) child.kill('SIGTERM');
    setTimeout(() => process.exit(0), 15_000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function main() {
  const command = process.argv[2] ?? process.env.SWITCHYARD_APP;
  const config = loadConfigOrExit();
  if (command === 'setup') {
    await setup(config);
  } else if (command === 'all') {
    await setup(config);
    supervise();
    say(`Switchyard is starting: ingress http://127.0.0.1:${config.INGRESS_PORT}/webhooks/nimbus, admin http://127.0.0.1:${config.ADMIN_PORT}/docs`);
  } else if (APPS.includes(command as App)) {
    await runApp(command as App, config);
  } else {
    fail(`usage: switchyard setup | all | ${APPS.join(' | ')}   (or SWITCHYARD_APP=<app>)`, 64);
  }
}

main().catch((err) => fail(`${(err as Error).message}`));
