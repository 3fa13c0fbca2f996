import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { AppConfig, loadConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { connectNats, deleteStreams, ensureStreams, streamSettingsFrom } from '@switchyard/messaging';
import { createDataSource, runMigrations } from '@switchyard/persistence';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
import { startAdmin } from '../../apps/admin/src/main';
import { startDedupe } from '../../apps/dedupe/src/main';
import { startFanout } from '../../apps/fanout/src/main';
import { startIngress } from '../../apps/ingress/src/main';
import { freePort } from './free-port';

export type AppName = 'ingress' | 'dedupe' | 'fanout' | 'admin';

export interface StackOptions {
  /** Receives the JSON log lines of dedupe, ingress and admin (instead of stdout). */
  logs?: DestinationStream;
}

interface Running {
  close(): Promise<void>;
}

/**
 * The four apps in this process against the real Postgres and NATS, in a schema and under a NATS prefix
 * of their own (so test files can run in parallel), with loopback receivers allowed and quiet logs.
 */
export class TestStack {
  readonly apps = new Map<AppName, Running>();
  ingressUrl = '';
  /** Ingress's /healthz, /readyz and /metrics (INGRESS_OPS_PORT): the public port serves only the webhook. */
  ingressOpsUrl = '';
  /** Where each running app serves /healthz, /readyz and /metrics. */
  readonly opsUrls = new Map<AppName, string>();
  adminUrl = '';
  db!: DataSource;
  nc!: NatsConnection;

  private constructor(
    readonly config: AppConfig,
    private readonly options: StackOptions,
  ) {}

  static async start(
    testFile: string,
    env: Record<string, string> = {},
    apps: AppName[] = ['dedupe', 'ingress', 'fanout', 'admin'],
    options: StackOptions = {},
  ) {
    const id = `${basename(testFile).replace(/\W+/g, '_').slice(0, 30)}_${randomBytes(3).toString('hex')}`.toLowerCase();
    const grpcPort = await freePort();
    const config = loadConfig({
      DATABASE_SCHEMA: `t_${id}`,
      NATS_PREFIX: `t_${id}`,
      HTTP_HOST: '127.0.0.1',
      INGRESS_PORT: '0',
      INGRESS_OPS_PORT: '0',
      ADMIN_PORT: '0',
      DEDUPE_HTTP_PORT: '0',
      FANOUT_HTTP_PORT: '0',
      DEDUPE_GRPC_PORT: String(grpcPort),
      DEDUPE_GRPC_URL: `127.0.0.1:${grpcPort}`,
      ALLOW_INSECURE_SUBSCRIBER_URLS: 'true',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DELIVERY_POLL_INTERVAL: '100ms',
      DATABASE_POOL_SIZE: '5',
      ...env,
    });
    const stack = new TestStack(config, options);
    try {
      await runMigrations({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolSize: 1, applicationName: 'test' });
      stack.nc = await connectNats(config.NATS_URL, 'test');
      await ensureStreams(stack.nc, subjectsFor(config.NATS_PREFIX), streamSettingsFrom(config));
      stack.db = await createDataSource({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolSize: 2, applicationName: 'test' }).initialize();
      for (const app of apps) await stack.startApp(app);
      return stack;
    } catch (err) {
      // A start that fails half way (a port taken, a dependency down) leaves no schema or stream behind.
      await stack.stop().catch(() => undefined);
      throw err;
    }
  }

  async startApp(app: AppName): Promise<void> {
    const c = this.config;
    switch (app) {
      case 'dedupe': {
        const s = await startDedupe(c, { logDestination: this.options.logs });
        this.opsUrls.set(app, s.opsUrl);
        this.apps.set(app, s);
        break;
      }
      case 'ingress': {
        const s = await startIngress(c, { logDestination: this.options.logs });
        this.ingressUrl = s.url.replace('[::1]', '127.0.0.1');
        this.ingressOpsUrl = s.opsUrl;
        this.opsUrls.set(app, s.opsUrl);
        this.apps.set(app, s);
        break;
      }
      case 'fanout': {
        const s = await startFanout(c, { logDestination: this.options.logs });
        this.opsUrls.set(app, s.opsUrl);
        this.apps.set(app, s);
        break;
      }
      case 'admin': {
        const s = await startAdmin(c, { logDestination: this.options.logs });
        this.adminUrl = s.url.replace('[::1]', '127.0.0.1');
        this.opsUrls.set(app, this.adminUrl);
        this.apps.set(app, s);
        break;
      }
    }
  }

  async stopApp(app: AppName): Promise<void> {
    await this.apps.get(app)?.close();
    this.apps.delete(app);
    this.opsUrls.delete(app);
  }

  /** Messages stored in the inbound stream so far. */
  async storedMessages(): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    return (await jsm.streams.info(subjectsFor(this.config.NATS_PREFIX).inboundStream)).state.messages;
  }

  // ---- admin API helpers -------------------------------------------------------------------------
  async admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.adminUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.config.ADMIN_TOKEN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async createClinic(name = 'Test Clinic'): Promise<{ id: string; apiKey: string }> {
    const res = await this.admin('POST', '/admin/clinics', { name });
    if (res.status !== 201) throw new Error(`create clinic: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.id, apiKey: res.body.api_key };
  }

  async createSubscriber(clinicId: string, url: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
    const res = await this.admin('POST', '/api/external/webhook', { clinic_id: clinicId, webhook_url: url, ...extra });
    if (res.status !== 201) throw new Error(`create subscriber: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.data.webhook_id, secret: res.body.data.secret };
  }

  // ---- ingress helper ----------------------------------------------------------------------------
  async send(apiKey: string | undefined, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.ingressUrl}/webhooks/nimbus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey !== undefined ? { 'x-api-key': apiKey } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** Stops the apps and removes the schema and the stream (also those of a start that failed half way). */
  async stop(): Promise<void> {
    const c = this.config;
    for (const app of ['admin', 'ingress', 'fanout', 'dedupe'] as AppName[]) await this.stopApp(app).catch(() => undefined);
    if (this.nc) {
      await deleteStreams(this.nc, subjectsFor(c.NATS_PREFIX)).catch(() => undefined);
      await this.nc.close();
    }
    const db = this.db ?? (await createDataSource({ url: c.DATABASE_URL, schema: 'public', poolSize: 1, applicationName: 'test' }).initialize());
    await db.query(`DROP SCHEMA IF EXISTS "${c.DATABASE_SCHEMA}" CASCADE`).catch(() => undefined);
    await db.destroy();
  }
}

export { eventually } from './eventually';
