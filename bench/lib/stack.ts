import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AppConfig } from '@switchyard/config';
import { Subjects, subjectsFor } from '@switchyard/contracts';
import { InboundPublisher, StreamSettings, connectNats, deleteStreams, ensureStreams, streamSettingsFrom } from '@switchyard/messaging';
import { runMigrations } from '@switchyard/persistence';
import { nodeFlagsFor } from '../../scripts/node-flags';
import { CpuGroups, pidsListeningOn, postgresPidsFor } from './cpu';
import { BenchDatabase } from './database';
import { log } from './log';
import { RequestMix } from './payloads';
import { pgPool } from './pg';
import { Child, ask, freePort, sleep, startChild } from './procs';
import { ReceiverClient } from './receiver-client';
import { seedTenants } from './seed';
import { Settings } from './settings';

export type AppName = 'ingress' | 'dedupe' | 'fanout';

/**
 * The system under test: the receiver, the seeded clinics, a schema and a NATS prefix of the run's own, and
 * the apps as child processes — any number of ingress and fan-out replicas (`fanout`, `fanout-2`, …, each
 * with its own ports, sharing the schema, the stream and the durable consumer) beside one dedupe service.
 */
const randomBytesBase64 = randomBytes(32).toString('base64');

export class BenchStack {
  readonly children: Child[] = [];
  readonly subjects: Subjects;
  readonly streamSettings: StreamSettings;
  receiver!: ReceiverClient;
  keys: string[] = [];
  clinicIds: string[] = [];
  private readonly ports = new Map<string, number>();
  private readonly opsPorts = new Map<string, number>();
  private grpcPort = 0;

  private constructor(
    readonly name: string,
    readonly S: Settings,
    readonly config: AppConfig,
    readonly db: BenchDatabase,
    readonly nc: NatsConnection,
    readonly logDir: string,
    private readonly buildDir: string,
  ) {
    this.subjects = subjectsFor(name);
    // The run's events are read once: an hour of retention is plenty, and a crash of the bench leaves no week-long stream.
    this.streamSettings = { ...streamSettingsFrom(config), replicas: 1, maxAgeMs: 3_600_000, maxBytes: -1 };
  }

  /** Migrates the schema, creates the stream, starts the receiver and seeds the clinics (no app yet). */
  static async open(name: string, S: Settings, config: AppConfig, db: BenchDatabase, logDir: string, buildDir: string): Promise<BenchStack> {
    const nc = await connectNats(config.NATS_URL, 'switchyard-bench');
    const stack = new BenchStack(name, S, config, db, nc, logDir, buildDir);
    try {
      await runMigrations({ url: db.url, schema: name, poolSize: 1, applicationName: 'switchyard-bench' });
      await ensureStreams(nc, stack.subjects, stack.streamSettings);
      const receiver = await stack.startScript('receiver');
      stack.receiver = new ReceiverClient(`http://127.0.0.1:${receiver.port}`);
      stack.keys = await seedTenants(db.url, name, config.KEY_PEPPER, stack.receiver.url, S.clinics, S.subscribersPerClinic);
      stack.clinicIds = (await stack.query(`SELECT id FROM clinics ORDER BY name`)).map((r) => r.id as string);
      stack.grpcPort = await freePort();
    } catch (err) {
      await stack.close();
      throw err;
    }
    log(`seeded ${S.clinics} clinics, ${S.subscribersPerClinic} subscribers each, in ${db.name}.${name}`);
    return stack;
  }

  /** A compiled bench script (`receiver`, `bare-http`…) to fork. */
  script(name: string): string {
    return join(this.buildDir, 'bench', `${name}.js`);
  }

  /** Forks a compiled bench script (not an app) as a child of the stack, stopped with it. */
  async startScript(name: string, env: NodeJS.ProcessEnv = {}): Promise<Child> {
    const child = await startChild(name, this.script(name), [], { ...process.env, ...env }, this.logDir, this.profiling(name));
    this.children.push(child);
    return child;
  }

  /** `--cpu-prof` for an app or a bench script named in BENCH_CPU_PROF (its profile lands in the run's log dir). */
  private profiling(name: string): string[] {
    return this.S.cpuProf.includes(name) ? ['--cpu-prof', '--cpu-prof-dir', this.logDir] : [];
  }

  /** One query on the run's schema, on a connection of its own. */
  async query(sql: string, params: unknown[] = []): Promise<any[]> {
    const pool = pgPool(this.db.url, 1, this.name);
    try {
      return (await pool.query(sql, params)).rows;
    } finally {
      await pool.end();
    }
  }

  /** The environment every app gets; `port` is the instance's own HTTP port (ingress: INGRESS_PORT, others: ops), `opsPort` ingress's ops port. */
  private envFor(app: AppName, port: number, opsPort: number): NodeJS.ProcessEnv {
    return {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      DATABASE_URL: this.db.url,
      DATABASE_SCHEMA: this.name,
      NATS_PREFIX: this.name,
      KEY_PEPPER: this.config.KEY_PEPPER,
      // Required in production; the bench's own key (subscribers seeded in plain text read as they are).
      SECRETS_KEYS: process.env.SECRETS_KEYS ?? `bench:${randomBytesBase64}`,
      ADMIN_TOKEN: this.config.ADMIN_TOKEN,
      HTTP_HOST: '127.0.0.1',
      DEDUPE_GRPC_PORT: String(this.grpcPort),
      DEDUPE_GRPC_URL: `127.0.0.1:${this.grpcPort}`,
      ALLOW_INSECURE_SUBSCRIBER_URLS: 'true',
      BENCH_PROF_DIR: this.logDir, // where launch-app writes an allocation profile (BENCH_ALLOC_PROF)
      ...(app === 'ingress'
        ? { INGRESS_PORT: String(port), INGRESS_OPS_PORT: String(opsPort) }
        : app === 'dedupe'
          ? { DEDUPE_HTTP_PORT: String(port) }
          : { FANOUT_HTTP_PORT: String(port) }),
    };
  }

  /** Starts instance `instance` of an app (1: `fanout`, 2: `fanout-2`…) and waits until it is ready. */
  async start(app: AppName, instance = 1): Promise<Child> {
    const name = instance === 1 ? app : `${app}-${instance}`;
    const port = this.ports.get(name) ?? (await freePort());
    this.ports.set(name, port);
    const opsPort = this.opsPorts.get(name) ?? (await freePort());
    this.opsPorts.set(name, opsPort);
    // --trace-gc: the steady phase reads the live heap after each full GC from the apps' logs. The apps' own
    // flags first (what the image runs them with); BENCH_NODE_ARGS last, so it can override them.
    // --expose-gc only lets the steady phase ask for a full GC (collectGarbage); it changes no GC behaviour.
    const execArgv = [...nodeFlagsFor(app), '--trace-gc', '--expose-gc', ...this.profiling(app), ...this.S.nodeArgs];
    const child = await startChild(name, join(this.buildDir, 'bench/launch-app.js'), [app], this.envFor(app, port, opsPort), this.logDir, execArgv);
    this.children.push(child);
    return child;
  }

  /** Running instances of an app, first instance first. */
  running(app: AppName): Child[] {
    return this.children.filter((c) => (c.name === app || c.name.startsWith(`${app}-`)) && c.proc.exitCode === null && c.proc.signalCode === null);
  }

  /** Runs exactly `n` instances of an app (1…n), starting the missing ones together and stopping the rest. */
  async scale(app: AppName, n: number): Promise<void> {
    const names = new Set(Array.from({ length: n }, (_, i) => (i === 0 ? app : `${app}-${i + 1}`)));
    const running = this.running(app);
    await Promise.all(running.filter((c) => !names.has(c.name)).map((c) => this.stop(c)));
    const have = new Set(this.running(app).map((c) => c.name));
    await Promise.all(
      Array.from({ length: n }, (_, i) => i + 1)
        .filter((i) => !have.has(i === 1 ? app : `${app}-${i}`))
        .map((i) => this.start(app, i)),
    );
  }

  async stop(child: Child): Promise<void> {
    await child.stop();
    this.children.splice(this.children.indexOf(child), 1);
  }

  ingressUrl(instance = 1): string {
    return `http://127.0.0.1:${this.ports.get(instance === 1 ? 'ingress' : `ingress-${instance}`)}/webhooks/nimbus`;
  }

  /** Ingress serves its metrics on its ops port (INGRESS_OPS_PORT), the others on their only HTTP port. */
  metricsUrl(name: 'ingress' | 'dedupe'): string {
    return `http://127.0.0.1:${name === 'ingress' ? this.opsPorts.get(name) : this.ports.get(name)}/metrics`;
  }

  /** Runs a full GC in an app process (bench/launch-app.ts) and waits for it. */
  async collectGarbage(child: Child): Promise<void> {
    await ask(child, { type: 'gc' }, 'gc-done');
  }

  /** The metrics of every fan-out process running now. */
  fanoutMetricsUrls(): string[] {
    return this.running('fanout').map((c) => `http://127.0.0.1:${this.ports.get(c.name)}/metrics`);
  }

  /** Where the CPU goes (bench/lib/cpu.ts): every instance of each app, the receiver, this database's Postgres, the NATS server. */
  get cpuGroups(): CpuGroups {
    const pids = (app: string) => () => this.children.filter((c) => (c.name === app || c.name.startsWith(`${app}-`)) && c.proc.pid).map((c) => c.proc.pid!);
    const natsPort = Number(new URL(this.config.NATS_URL).port || 4222);
    return {
      ingress: pids('ingress'),
      dedupe: pids('dedupe'),
      fanout: pids('fanout'),
      receiver: pids('receiver'),
      postgres: () => postgresPidsFor(this.db.name),
      'nats-server': () => pidsListeningOn(natsPort),
    };
  }

  /**
   * Stops every fan-out and empties the stream (purged, and a new durable consumer), so the next fan-out
   * starts with no backlog. Waits a little first: requests ingress still had queued when a load stopped land
   * in the stream before it is purged.
   *
   * Purged, not deleted and created again: a new stream numbers its messages from 1 again, and a fan-out
   * starting on it takes every message numbered at or below the highest sequence already stored (by the
   * earlier phases, from the old stream) for a redelivery, which it stores and queues instead of attempting
   * (`InboundConsumer.firstDelivery`). Every phase after the first drain ran its first 20,000–60,000
   * deliveries through the Postgres queue that way (bench/RESULTS.md, twelfth round). A purged stream goes on
   * numbering from where it was, as a stream in service does.
   */
  async freshStream(settleMs = 3000): Promise<void> {
    await this.scale('fanout', 0);
    await sleep(settleMs);
    const jsm = await jetstreamManager(this.nc);
    await jsm.streams.purge(this.subjects.inboundStream).catch(() => undefined);
    await jsm.consumers.delete(this.subjects.inboundStream, this.subjects.fanoutConsumer).catch(() => undefined);
    await ensureStreams(this.nc, this.subjects, this.streamSettings);
  }

  /**
   * Makes sure exactly one fan-out runs; when none did, starts one on an emptied stream and says so (true):
   * a phase measuring it then warms it up first.
   */
  async ensureFanout(): Promise<boolean> {
    if (this.running('fanout').length > 0) {
      await this.scale('fanout', 1);
      return false;
    }
    await this.freshStream();
    await this.start('fanout');
    return true;
  }

  /** Publishes `events` events of the request mix straight into the stream (as ingress would), 200 in flight. */
  async publishBacklog(events: number): Promise<void> {
    const publisher = new InboundPublisher(this.nc, this.subjects, 10_000);
    const mix = new RequestMix(this.keys, 0);
    for (let i = 0; i < events; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, events - i) }, () => {
          const body = mix.next().body;
          return publisher.publish({
            eventId: randomUUID(),
            clinicId: this.clinicIds[Math.floor(Math.random() * this.clinicIds.length)]!,
            eventName: (JSON.parse(body) as { event_name: string }).event_name,
            receivedAt: new Date().toISOString(),
            body: Buffer.from(body),
          });
        }),
      );
    }
  }

  /** Stops every child; unless BENCH_KEEP=1 removes the stream and the schema. */
  async close(): Promise<void> {
    for (const c of [...this.children].reverse()) await c.stop().catch(() => undefined);
    this.children.length = 0;
    if (!this.S.keep) {
      await deleteStreams(this.nc, this.subjects).catch(() => undefined);
      const pool = pgPool(this.db.url, 1);
      await pool.query(`DROP SCHEMA IF EXISTS "${this.name}" CASCADE`).catch(() => undefined);
      await pool.end();
    }
    await this.nc.drain().catch(() => undefined);
  }
}
