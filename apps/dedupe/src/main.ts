import { startTracing } from '@switchyard/observability/tracing';
startTracing('dedupe');

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { DataSource } from 'typeorm';
import { postgresAnswers } from '@switchyard/persistence';
import { AppConfig, ConfigModule, startWhenMain } from '@switchyard/config';
import { DEDUPE_PROTO_PATH, HEALTH_PROTO_PATH } from '@switchyard/contracts';
import { Metrics, NestPinoLogger, ObservabilityModule, StartOptions, createLogger, orClose, startOpsServer, withOpsServer } from '@switchyard/observability';
import { DedupeAppModule } from './app.module';
import { Module } from '@nestjs/common';

/** Starts the dedupe service: gRPC on DEDUPE_GRPC_PORT, health and metrics over HTTP on DEDUPE_HTTP_PORT. */
export async function startDedupe(config: AppConfig, options: StartOptions = {}) {
  const log = createLogger('dedupe', config.LOG_LEVEL, options.logDestination);
  const metrics = new Metrics('dedupe');

  @Module({ imports: [ConfigModule.forRoot(config), ObservabilityModule.forApp(log, metrics), DedupeAppModule] })
  class RootModule {}

  const app = await NestFactory.createMicroservice<MicroserviceOptions>(RootModule, {
    logger: new NestPinoLogger(log),
    transport: Transport.GRPC,
    options: {
      package: ['dedupe.v1', 'grpc.health.v1'],
      protoPath: [DEDUPE_PROTO_PATH, HEALTH_PROTO_PATH],
      url: `${config.HTTP_HOST}:${config.DEDUPE_GRPC_PORT}`,
      loader: { keepCase: false, longs: Number, enums: Number, defaults: true },
    },
  });
  app.enableShutdownHooks();
  await orClose(app, () => app.listen());
  const ds = app.get(DataSource);
  const ops = await orClose(app, () =>
    startOpsServer(config.DEDUPE_HTTP_PORT, config.HTTP_HOST, metrics, () => ({
      postgres: postgresAnswers(ds),
    })),
  );
  log.info({ grpc_port: config.DEDUPE_GRPC_PORT, http_port: config.DEDUPE_HTTP_PORT }, 'dedupe service listening');
  return withOpsServer(app, log, ops);
}

startWhenMain(module, 'dedupe', startDedupe);
