import { startTracing } from '@switchyard/observability/tracing';
startTracing('ingress');

import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig, ConfigModule, startWhenMain } from '@switchyard/config';
import { DedupeClient } from '@switchyard/dedupe';
import { NatsLink } from '@switchyard/messaging';
import { Metrics, NestPinoLogger, ObservabilityModule, StartOptions, createLogger, registerOpsRoutes } from '@switchyard/observability';
import { HttpErrorFilter, hardenedServerOptions } from '@switchyard/web';
import { IngressAppModule } from './app.module';
import { useDecodingJsonParser } from './webhooks/content-decoding';

/** Starts ingress: `POST /webhooks/nimbus` on INGRESS_PORT, with /healthz, /readyz, /metrics. */
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
  registerOpsRoutes(fastify, metrics, async () => ({
    nats: nats.isReady(),
    dedupe: await dedupe.ready(500),
  }));
  app.enableShutdownHooks();
  await app.listen(config.INGRESS_PORT, config.HTTP_HOST);
  log.info({ port: config.INGRESS_PORT }, 'ingress listening');
  return { app, log, url: await app.getUrl(), close: () => app.close() };
}

startWhenMain(module, 'ingress', startIngress);
