import { startTracing } from '@switchyard/observability/tracing';
startTracing('fanout');

import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { postgresAnswers } from '@switchyard/persistence';
import { AppConfig, ConfigModule, startWhenMain } from '@switchyard/config';
import { KNOWN_EVENT_NAMES } from '@switchyard/contracts';
import { Metrics, NestPinoLogger, ObservabilityModule, StartOptions, createLogger, orClose, startOpsServer, withOpsServer } from '@switchyard/observability';
import { FanoutAppModule } from './app.module';
import { NatsLink } from '@switchyard/messaging';

/** Starts fan-out: the inbound consumer and the delivery dispatcher, with health and metrics on FANOUT_HTTP_PORT. */
export async function startFanout(config: AppConfig, options: StartOptions = {}) {
  const log = createLogger('fanout', config.LOG_LEVEL, options.logDestination);
  const metrics = new Metrics('fanout', { clinicLabel: config.METRICS_CLINIC_LABEL, eventTypes: KNOWN_EVENT_NAMES });

  @Module({ imports: [ConfigModule.forRoot(config), ObservabilityModule.forApp(log, metrics), FanoutAppModule] })
  class RootModule {}

  const app = await NestFactory.createApplicationContext(RootModule, { logger: new NestPinoLogger(log) });
  app.enableShutdownHooks();
  await app.init();
  const ds = app.get(DataSource);
  const nats = app.get(NatsLink);
  const ops = await orClose(app, () =>
    startOpsServer(config.FANOUT_HTTP_PORT, config.HTTP_HOST, metrics, () => ({
      postgres: postgresAnswers(ds),
      // Connected, and the inbound consumer attached (not while it waits out a leader election).
      nats: nats.isReady(),
    })),
  );
  log.info({ port: config.FANOUT_HTTP_PORT }, 'fan-out running');
  return withOpsServer(app, log, ops);
}

startWhenMain(module, 'fanout', startFanout);
