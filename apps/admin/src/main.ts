import { startTracing } from '@switchyard/observability/tracing';
startTracing('admin');

import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { postgresAnswers } from '@switchyard/persistence';
import { AppConfig, ConfigModule, startWhenMain } from '@switchyard/config';
import { Metrics, NestPinoLogger, ObservabilityModule, StartOptions, createLogger, orClose, registerOpsRoutes } from '@switchyard/observability';
import { HttpErrorFilter } from '@switchyard/web';
import { AdminAppModule } from './app.module';
import { echoRequestIds, requestIdServerOptions } from './audit/request-id';
import { registerConsoleRoutes } from './console/console-routes';
import { setUpOpenApi } from './openapi';

/** Starts the admin API on ADMIN_PORT, with /healthz, /readyz, /metrics, OpenAPI at /docs, /docs-json and the console at /console. */
export async function startAdmin(config: AppConfig, options: StartOptions = {}) {
  const log = createLogger('admin', config.LOG_LEVEL, options.logDestination);
  const metrics = new Metrics('admin');

  @Module({ imports: [ConfigModule.forRoot(config), ObservabilityModule.forApp(log, metrics), AdminAppModule] })
  class RootModule {}

  const adapter = new FastifyAdapter({
    bodyLimit: 1024 * 1024,
    logger: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ...requestIdServerOptions,
  });
  const app = await NestFactory.create<NestFastifyApplication>(RootModule, adapter, { logger: new NestPinoLogger(log) });
  const fastify = app.getHttpAdapter().getInstance();
  echoRequestIds(fastify);
  app.useGlobalFilters(new HttpErrorFilter(log));
  const ds = app.get(DataSource);
  registerOpsRoutes(fastify, metrics, () => ({ postgres: postgresAnswers(ds) }));
  const openapi = setUpOpenApi(app);
  registerConsoleRoutes(fastify);
  app.enableShutdownHooks();
  await orClose(app, () => app.listen(config.ADMIN_PORT, config.HTTP_HOST));
  log.info({ port: config.ADMIN_PORT }, 'admin API listening');
  return { app, log, openapi, url: await app.getUrl(), close: () => app.close() };
}

startWhenMain(module, 'admin', startAdmin);
