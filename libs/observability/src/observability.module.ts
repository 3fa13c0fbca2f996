import { DynamicModule, Global, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { Metrics } from './metrics';
import { stopTracing } from './tracing';

export const LOGGER = Symbol('LOGGER');

/**
 * The app's logger (injectable as LOGGER) and its metrics registry (injectable as Metrics). At shutdown it
 * flushes the spans the tracing SDK still buffers (startTracing), which would otherwise be lost.
 */
@Global()
@Module({})
export class ObservabilityModule implements OnApplicationShutdown {
  async onApplicationShutdown() {
    await stopTracing();
  }

  static forApp(logger: Logger, metrics: Metrics): DynamicModule {
    return {
      module: ObservabilityModule,
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: Metrics, useValue: metrics },
      ],
      exports: [LOGGER, Metrics],
    };
  }
}
