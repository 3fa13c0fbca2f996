import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subjectsFor } from '@switchyard/contracts';
import { connectNats, deleteStreams } from '@switchyard/messaging';
import { createDataSource } from '@switchyard/persistence';
import { APP_NODE_FLAGS } from '../../scripts/node-flags';
import { freePort } from '../support/free-port';
import { eventually } from '../support/stack';

const ROOT = join(__dirname, '../..');

/** The launcher behind `npm start`, run from source: set-up, four apps, and a restart after a crash. */
describe('switchyard all (npm start)', () => {
  let proc: ChildProcess;
  let output = '';
  let ports: Record<string, number>;
  const schema = `t_launcher_${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ports = { ingress: await freePort(), ingressOps: await freePort(), admin: await freePort(), grpc: await freePort(), dedupe: await freePort(), fanout: await freePort() };
    proc = spawn(process.execPath, ['-r', '@swc-node/register', 'scripts/switchyard.ts', 'all'], {
      cwd: ROOT,
      env: {
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
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => (output += d));
    proc.stderr!.on('data', (d) => (output += d));
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    const nc = await connectNats('nats://127.0.0.1:4222', 'test-cleanup');
    await deleteStreams(nc, subjectsFor(schema));
    await nc.close();
    const db = await createDataSource({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'public', poolSize: 1, applicationName: 'test' }).initialize();
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.destroy();
  });

  const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200;

  it('runs the migrations and stream set-up, then serves all four apps', async () => {
    await eventually(async () => (await Promise.all([ports.ingressOps, ports.admin, ports.dedupe, ports.fanout].map(ready))).every(Boolean), 45_000, `all apps ready; output so far:\n${output}`);
    expect(output).toMatch(/migrations applied: InitialSchema/);
    expect(output).toMatch(/JetStream stream T_LAUNCHER_\w+_IN ready/);
  });

  it('runs every app with the app Node flags', () => {
    for (const app of ['ingress', 'dedupe', 'fanout', 'admin']) {
      const pid = Number(new RegExp(`"${app} started \\(pid (\\d+)\\)"`).exec(output)?.[1]);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect({ app, flags: argv.filter((a) => APP_NODE_FLAGS.includes(a)) }).toEqual({ app, flags: [...APP_NODE_FLAGS] });
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
});
