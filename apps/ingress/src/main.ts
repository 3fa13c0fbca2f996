import { startTracing } from '@switchyard/observability/tracing';
startTracing('ingress');

import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig, ConfigModule, startWhenMain } from '@switchyard/config';
import { DedupeClient } from '@switchyard/dedupe';
import { NatsLink } from '@switchyard/messaging';
import {
  Metrics,
  NestPinoLogger,
  ObservabilityModule,
  StartOptions,
  createLogger,
  orClose,
  recordRequestMetrics,
  startOpsServer,
  withOpsServer,
} from '@switchyard/observability';
import { HttpErrorFilter, hardenedServerOptions } from '@switchyard/web';
import { IngressAppModule } from './app.module';
import { useDecodingJsonParser } from './webhooks/content-decoding';

/**
 * Starts ingress: `POST /webhooks/nimbus` on INGRESS_PORT (the port that faces Nimbus, so nothing else is
 * served there) and /healthz, /readyz, /metrics on INGRESS_OPS_PORT.
 */
export async function startIngress(config: AppConfig, options: StartOptions = {}) {
  const log = createLogger('ingress', config.LOG_LEVEL, options.logDestination);
  const metrics = new Metrics('ingress', { clinicLabel: config.METRICS_CLINIC_LABEL });

  @Module({ imports: [ConfigModule.forRoot(config), ObservabilityModule.forApp(log, metrics), IngressAppModule] })
  class RootModule {}

  const adapter = new FastifyAdapter({
    bodyLimit: config.INGRESS_BODY_LIMIT,
    logger: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ...hardenedServerOptions(config.INGRESS_REQUEST_TIMEOUT),
  });
  const app = await NestFactory.create<NestFastifyApplication>(RootModule, adapter, { logger: new NestPinoLogger(log), rawBody: true });
  const fastify = app.getHttpAdapter().getInstance();
  useDecodingJsonParser(app, config.INGRESS_BODY_LIMIT);
  app.useGlobalFilters(new HttpErrorFilter(log));
  const nats = app.get(NatsLink);
  const dedupe = app.get(DedupeClient);
  recordRequestMetrics(fastify, metrics);
  app.enableShutdownHooks();
  await orClose(app, () => app.listen(config.INGRESS_PORT, config.HTTP_HOST));
  const ops = await orClose(app, () =>
    startOpsServer(config.INGRESS_OPS_PORT, config.HTTP_HOST, metrics, () => ({
      nats: nats.isReady(),
      dedupe: dedupe.ready(500),
    })),
  );
  log.info({ port: config.INGRESS_PORT, ops_port: config.INGRESS_OPS_PORT }, 'ingress listening');
  return { ...withOpsServer(app, log, ops), url: await app.getUrl() };
}

startWhenMain(module, 'ingress', startIngress);
