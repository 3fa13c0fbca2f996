import Fastify, { FastifyInstance } from 'fastify';
import { withTimeout } from '@switchyard/batching';
import { Metrics } from './metrics';

const READINESS_TIMEOUT_MS = 2_000;

/**
 * A readiness check names each dependency and whether it is usable now: a boolean, or a promise of one for
 * a dependency that must be asked. Each dependency gets its own timeout, so a slow one is reported down on
 * its own and never takes the others with it.
 */
export type ReadinessCheck = () => Record<string, boolean | Promise<boolean>>;

/**
 * Counts every request the instance answers in switchyard_http_requests_total and
 * switchyard_http_request_duration_seconds (by route, method and status). An app whose ops routes live on
 * another port (ingress) calls this on its public server, so its own routes are still measured.
 */
export function recordRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') {
      metrics.httpRequests.inc({ route, method: request.method, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    }
    done();
  });
}

/**
 * `/healthz` (the process is alive), `/readyz` (its dependencies are usable: 503 otherwise, naming the
 * failing one) and `/metrics` (Prometheus text), plus request metrics for every route of the instance.
 */
export function registerOpsRoutes(app: FastifyInstance, metrics: Metrics, readiness: ReadinessCheck): void {
  // Readiness runs on every /readyz and every scrape, and its answer is exported as
  // switchyard_dependency_up{dependency}, so an alert can name the dependency that is down.
  // A check that hangs (SELECT 1 waiting for a busy pool, a flush while NATS reconnects) must not hang the
  // scrape: after the timeout that dependency, and only that one, counts as down.
  const check = async (): Promise<Record<string, boolean>> => {
    const asked = Object.entries(readiness());
    const answers = await Promise.all(
      asked.map(([, up]) => (typeof up === 'boolean' ? up : withTimeout(up, READINESS_TIMEOUT_MS, 'readiness check').then(Boolean, () => false))),
    );
    const checks = Object.fromEntries(asked.map(([dependency], i) => [dependency, answers[i]!]));
    for (const [dependency, up] of Object.entries(checks)) metrics.dependencyUp.set({ dependency }, up ? 1 : 0);
    return checks;
  };
  recordRequestMetrics(app, metrics);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks = await check();
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (_request, reply) => {
    await check();
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/**
 * A standalone ops server: for apps that serve no HTTP of their own (dedupe, fan-out), and for ingress,
 * whose public port must carry nothing but the webhook route.
 */
export async function startOpsServer(
  port: number,
  host: string,
  metrics: Metrics,
  readiness: ReadinessCheck,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  registerOpsRoutes(app, metrics, readiness);
  await app.listen({ port, host });
  return app;
}

/** Where a listening ops server answers, e.g. `http://127.0.0.1:9093` (a wildcard address reads as loopback). */
export function opsServerUrl(ops: FastifyInstance): string {
  const first = ops.addresses()[0];
  // Fastify lists a pipe or Unix socket as its path; an ops server always listens on a TCP port.
  if (!first || typeof first === 'string') throw new Error(`the ops server does not listen on a TCP port (${first ?? 'not listening'})`);
  const { address, family, port } = first;
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '[::1]' : family === 'IPv6' ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

/** An app with a standalone ops server, closed together: ops server first, then the app. */
export function withOpsServer<A extends { close(): Promise<unknown> }, L>(app: A, log: L, ops: FastifyInstance) {
  return {
    app,
    log,
    opsUrl: opsServerUrl(ops),
    async close() {
      await ops.close();
      await app.close();
    },
  };
}

/**
 * A step of an app's start (listening on its port, starting its ops server): if it fails, the app is closed
 * before the error goes on (its pools, timers and listeners), so a start that fails holds nothing.
 */
export async function orClose<T>(app: { close(): Promise<unknown> }, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
}
