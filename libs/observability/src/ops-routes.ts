import Fastify, { FastifyInstance } from 'fastify';
import { Metrics } from './metrics';

/** A readiness check names each dependency and whether it is usable now. */
export type ReadinessCheck = () => Promise<Record<string, boolean>>;

/**
 * `/healthz` (the process is alive), `/readyz` (its dependencies are usable: 503 otherwise, naming the
 * failing one) and `/metrics` (Prometheus text), plus request metrics for every route of the instance.
 */
export function registerOpsRoutes(app: FastifyInstance, metrics: Metrics, readiness: ReadinessCheck): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') {
      metrics.httpRequests.inc({ route, method: request.method, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    }
    done();
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    let checks: Record<string, boolean>;
    try {
      checks = await readiness();
    } catch {
      checks = { readiness: false };
    }
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/** A standalone ops server for apps that serve no HTTP of their own (dedupe, fan-out). */
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
