import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Server, createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXIT_CONFIG } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { connectNats, deleteStreams } from '@switchyard/messaging';
import { createDataSource } from '@switchyard/persistence';
import { APP_NODE_FLAGS, nodeFlagsFor } from '../../scripts/node-flags';
import { freePort } from '../support/free-port';
import { eventually } from '../support/stack';

const ROOT = join(__dirname, '../..');

type LauncherPorts = Record<'ingress' | 'ingressOps' | 'admin' | 'grpc' | 'dedupe' | 'fanout', number>;

const launcherPorts = async (): Promise<LauncherPorts> => ({
  ingress: await freePort(), ingressOps: await freePort(), admin: await freePort(), grpc: await freePort(), dedupe: await freePort(), fanout: await freePort(),
});

/** `switchyard all`'s environment: its own schema and stream prefix, every port its own. */
function launcherEnv(schema: string, ports: LauncherPorts): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_SCHEMA: schema,
    NATS_PREFIX: schema,
    HTTP_HOST: '127.0.0.1',
    INGRESS_PORT: String(ports.ingress),
    INGRESS_OPS_PORT: String(ports.ingressOps),
    ADMIN_PORT: String(ports.admin),
    DEDUPE_GRPC_PORT: String(ports.grpc),
    DEDUPE_GRPC_URL: `127.0.0.1:${ports.grpc}`,
    DEDUPE_HTTP_PORT: String(ports.dedupe),
    FANOUT_HTTP_PORT: String(ports.fanout),
    LOG_LEVEL: 'warn',
  };
}

/** `switchyard all` from source, its stdout and stderr handed to `append`. */
function spawnLauncher(schema: string, ports: LauncherPorts, append: (d: string) => void): ChildProcess {
  // With the image's flags, as `docker run <image> all` starts it.
  const proc = spawn(process.execPath, [...APP_NODE_FLAGS, '-r', '@swc-node/register', 'scripts/switchyard.ts', 'all'], {
    cwd: ROOT,
    env: launcherEnv(schema, ports),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', append);
  proc.stderr!.on('data', append);
  return proc;
}

async function dropSchemaAndStreams(schema: string): Promise<void> {
  const nc = await connectNats('nats://127.0.0.1:4222', 'test-cleanup');
  await deleteStreams(nc, subjectsFor(schema));
  await nc.close();
  const db = await createDataSource({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'public', poolSize: 1, applicationName: 'test' }).initialize();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.destroy();
}

/** The pids of the apps the launcher's output says it started. */
const startedPids = (text: string) => [...text.matchAll(/"\w+ started \(pid (\d+)\)"/g)].map((m) => Number(m[1]));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The launcher behind `npm start`, run from source: set-up, four apps, and a restart after a crash. */
describe('switchyard all (npm start)', () => {
  let proc: ChildProcess;
  let output = '';
  let ports: LauncherPorts;
  const schema = `t_launcher_${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ports = await launcherPorts();
    proc = spawnLauncher(schema, ports, (d) => (output += d));
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    await dropSchemaAndStreams(schema);
  });

  const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200;

  it('runs the migrations and stream set-up, then serves all four apps', async () => {
    await eventually(async () => (await Promise.all([ports.ingressOps, ports.admin, ports.dedupe, ports.fanout].map(ready))).every(Boolean), 45_000, `all apps ready; output so far:\n${output}`);
    expect(output).toMatch(/migrations applied: InitialSchema/);
    expect(output).toMatch(/JetStream stream T_LAUNCHER_\w+_IN ready/);
  });

  it('runs every app with its Node flags, after any the supervisor runs with (V8 keeps the last)', () => {
    for (const app of ['ingress', 'dedupe', 'fanout', 'admin']) {
      const pid = Number(new RegExp(`"${app} started \\(pid (\\d+)\\)"`).exec(output)?.[1]);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const script = argv.findIndex((a) => /switchyard\.[jt]s$/.test(a));
      const flags = nodeFlagsFor(app);
      expect({ app, last: argv.slice(script - flags.length, script) }).toEqual({ app, last: [...flags] });
    }
  });

  it('restarts an app that dies unexpectedly', async () => {
    const pid = Number(/"ingress started \(pid (\d+)\)"/.exec(output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await eventually(() => /ingress exited \(SIGKILL\); restarting/.test(output), 10_000, 'the restart notice');
    await eventually(() => ready(ports.ingressOps), 45_000, 'ingress ready again');
    // The launcher's own line can reach this pipe after the new ingress already answers.
    const startLines = () => [...output.matchAll(/"ingress started \(pid (\d+)\)"/g)].map((m) => Number(m[1]));
    const pids = await eventually(() => startLines().length >= 2 && startLines(), 10_000, 'the second start line');
    expect(pids).toHaveLength(2);
    expect(pids[1]).not.toBe(pid);
  });

  it('on SIGTERM stops every app and exits 0 (a stop asked for, not a failure)', async () => {
    const pids = startedPids(output);
    const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(output).toMatch(/SIGTERM: stopping all apps/);
    await eventually(() => pids.every((pid) => !alive(pid)), 10_000, 'every app stopped');
  });
});

/** A port one app needs is taken (another Switchyard, a dev server on 8080): say which and stop, not restart forever. */
describe('switchyard all with a port in use', () => {
  const schema = `t_launcher_busy_${randomBytes(3).toString('hex')}`;
  let squatter: Server;
  let proc: ChildProcess;
  let output = '';

  afterAll(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    for (const pid of startedPids(output)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await new Promise((r) => squatter?.close(r));
    await dropSchemaAndStreams(schema);
  });

  it('names the app and the variable, stops the other apps and exits with the configuration exit code', async () => {
    const ports = await launcherPorts();
    squatter = createServer();
    await new Promise<void>((r) => squatter.listen(ports.admin, '127.0.0.1', r));
    proc = spawnLauncher(schema, ports, (d) => (output += d));
    const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const code = await Promise.race([exit, new Promise<string>((r) => setTimeout(() => r('still running after 60 s'), 60_000))]);
    expect({ code, output }).toEqual({ code: EXIT_CONFIG, output: expect.stringMatching(new RegExp(`admin cannot listen on 127\\.0\\.0\\.1:${ports.admin}.*in use.*ADMIN_PORT`)) });
    const pids = startedPids(output);
    expect(pids).toHaveLength(4);
    expect(pids.filter(alive)).toEqual([]);
    expect(output.match(/admin exited/g) ?? []).toHaveLength(0);
  }, 90_000);
});

/** `npm start` with Postgres down: the hint it prints must work as printed, docker compose's Postgres included. */
describe('switchyard setup with Postgres down', () => {
  it('exits 1, says where it looked, and gives the DATABASE_URL of the docker compose Postgres it suggests', async () => {
    const port = await freePort(); // nothing listens there
    const run = spawnSync(process.execPath, ['-r', '@swc-node/register', 'scripts/switchyard.ts', 'setup'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test`, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`cannot prepare Postgres at postgres://postgres@127.0.0.1:${port}/test`);
    // docker-compose.yml publishes Postgres on a host port of its own, with its own user and database.
    const { services } = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { ports: string[]; environment: Record<string, string> }> };
    const published = (service: string, port: number) => services[service]!.ports.find((p) => p.endsWith(`:${port}`))!.split(':').slice(0, 2).join(':');
    const e = services.postgres!.environment;
    expect(run.stderr).toContain('docker compose up -d postgres nats');
    expect(run.stderr).toContain(`DATABASE_URL=postgres://${e.POSTGRES_USER}:${e.POSTGRES_PASSWORD}@${published('postgres', 5432)}/${e.POSTGRES_DB}`);
    expect(run.stderr).toContain(`NATS_URL=nats://${published('nats', 4222)}`);
  }, 90_000);
});
