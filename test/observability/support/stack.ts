/**
 * Starts dedupe, ingress and fan-out in this jest process against the real Postgres and NATS, in a schema
 * and NATS prefix of the caller's own, plus a loopback HTTP receiver. Clinics, keys and subscribers are
 * written straight into the tables (the admin app is not needed).
 *
 * Modules are loaded with require() inside startStack(), not imported at the top, so that a spec can
 * install OpenTelemetry instrumentations before http, gRPC and undici are first loaded.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders, Server } from 'node:http';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Answers for a path, one per request (the last one repeats). */
  script(path: string, statuses: number[]): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const http = require('node:http') as typeof import('node:http');
  const requests: ReceivedRequest[] = [];
  const scripts = new Map<string, number[]>();
  const seen = new Map<string, number>();
  const server: Server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const n = seen.get(path) ?? 0;
      seen.set(path, n + 1);
      const statuses = scripts.get(path) ?? [200];
      res.writeHead(statuses[Math.min(n, statuses.length - 1)]!, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (path, statuses) => scripts.set(path, statuses),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function freePort(): Promise<number> {
  const net = require('node:net') as typeof import('node:net');
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Stack {
  ingressUrl: string;
  ingressMetricsUrl: string;
  dedupeMetricsUrl: string;
  fanoutMetricsUrl: string;
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  createClinic(): Promise<{ clinicId: string; apiKey: string }>;
  addSubscriber(clinicId: string, url: string): Promise<string>;
  /** POSTs a Nimbus webhook to ingress. */
  send(apiKey: string | undefined, body: unknown, contentType?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startStack(name: string, overrides: Record<string, string> = {}): Promise<Stack> {
  const { loadConfig } = require('@switchyard/config') as typeof import('@switchyard/config');
  const { runMigrations, createDataSource } = require('@switchyard/persistence') as typeof import('@switchyard/persistence');
  const { ensureStreams, streamSettingsFrom, deleteStreams, connectNats } = require('@switchyard/messaging') as typeof import('@switchyard/messaging');
  const { subjectsFor } = require('@switchyard/contracts') as typeof import('@switchyard/contracts');
  const { hashApiKey, generateApiKey, keyHint } = require('@switchyard/tenancy') as typeof import('@switchyard/tenancy');
  const { generateSigningSecret } = require('@switchyard/delivery') as typeof import('@switchyard/delivery');

  const [grpcPort, dedupeHttp, fanoutHttp] = [await freePort(), await freePort(), await freePort()];
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    HTTP_HOST: '127.0.0.1',
    INGRESS_PORT: '0',
    INGRESS_OPS_PORT: '0',
    DEDUPE_GRPC_PORT: String(grpcPort),
    DEDUPE_GRPC_URL: `127.0.0.1:${grpcPort}`,
    DEDUPE_HTTP_PORT: String(dedupeHttp),
    FANOUT_HTTP_PORT: String(fanoutHttp),
    DATABASE_SCHEMA: `obs_${name}`,
    NATS_PREFIX: `obs_${name}_${process.pid}`,
    ALLOW_INSECURE_SUBSCRIBER_URLS: 'true',
    RETRY_SCHEDULE: '50ms',
    RETRY_JITTER: '0',
    DELIVERY_POLL_INTERVAL: '50ms',
    DATABASE_POOL_SIZE: '4',
    ...overrides,
  });
  const db = { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolSize: 2, applicationName: `test-${name}` };
  const admin = createDataSource({ ...db, schema: 'public' });
  await admin.initialize();
  await admin.query(`DROP SCHEMA IF EXISTS "${config.DATABASE_SCHEMA}" CASCADE`);
  await admin.destroy();
  await runMigrations(db);
  const ds = createDataSource(db);
  await ds.initialize();
  const subjects = subjectsFor(config.NATS_PREFIX);
  const nc = await connectNats(config.NATS_URL, `test-${name}`);
  await deleteStreams(nc, subjects);
  await ensureStreams(nc, subjects, streamSettingsFrom(config));

  const { startDedupe } = require('../../../apps/dedupe/src/main') as typeof import('../../../apps/dedupe/src/main');
  const { startIngress } = require('../../../apps/ingress/src/main') as typeof import('../../../apps/ingress/src/main');
  const { startFanout } = require('../../../apps/fanout/src/main') as typeof import('../../../apps/fanout/src/main');
  const dedupe = await startDedupe(config);
  const fanout = await startFanout(config);
  const ingress = await startIngress(config);
  const ingressUrl = ingress.url.replace('[::1]', '127.0.0.1');

  return {
    ingressUrl,
    ingressMetricsUrl: `${ingress.opsUrl}/metrics`,
    dedupeMetricsUrl: `http://127.0.0.1:${dedupeHttp}/metrics`,
    fanoutMetricsUrl: `http://127.0.0.1:${fanoutHttp}/metrics`,
    query: (sql, params) => ds.query(sql, params),
    async createClinic() {
      const clinicId = randomUUID();
      const apiKey = generateApiKey();
      await ds.query(`INSERT INTO clinics (id, name) VALUES ($1, $2)`, [clinicId, `clinic ${name}`]);
      await ds.query(`INSERT INTO api_keys (id, clinic_id, key_hash, hint) VALUES ($1, $2, $3, $4)`, [
        randomUUID(),
        clinicId,
        hashApiKey(apiKey, config.KEY_PEPPER),
        keyHint(apiKey),
      ]);
      return { clinicId, apiKey };
    },
    async addSubscriber(clinicId, url) {
      const id = randomUUID();
      await ds.query(`INSERT INTO subscribers (id, clinic_id, url, event_types, format, secret) VALUES ($1, $2, $3, '{*}', 'cloudevents', $4)`, [
        id,
        clinicId,
        url,
        generateSigningSecret(),
      ]);
      return id;
    },
    async send(apiKey, body, contentType = 'application/json') {
      const res = await fetch(`${ingressUrl}/webhooks/nimbus`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...(apiKey ? { 'x-api-key': apiKey } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed };
    },
    async close() {
      // PersistenceModule does not destroy its DataSource on shutdown (yet): do it here, or the pg pools
      // keep the jest worker alive.
      const { DataSource } = require('typeorm') as typeof import('typeorm');
      const sources = [ingress.app, fanout.app, dedupe.app].map((a) => a.get(DataSource));
      const t = Date.now();
      const lap = (what: string) => process.env.STACK_DEBUG && process.stdout.write(`${what} ${Date.now() - t} ms\n`);
      await ingress.close();
      lap('ingress');
      await fanout.close();
      lap('fanout');
      await dedupe.close();
      lap('dedupe');
      await Promise.all(sources.map((s) => (s.isInitialized ? s.destroy() : undefined)));
      await deleteStreams(nc, subjects).catch(() => undefined);
      await nc.close();
      // The schema goes with the stack (the next start would drop it anyway): none is left in the database.
      await ds.query(`DROP SCHEMA IF EXISTS "${config.DATABASE_SCHEMA}" CASCADE`);
      await ds.destroy();
      lap('all');
    },
  };
}

/** Polls until the check passes (returns truthy) or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
