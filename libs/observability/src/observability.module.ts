import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { Metrics } from './metrics';

export const LOGGER = Symbol('LOGGER');

/** The app's logger (injectable as LOGGER) and its metrics registry (injectable as Metrics). */
@Global()
@Module({})
export class ObservabilityModule {
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
