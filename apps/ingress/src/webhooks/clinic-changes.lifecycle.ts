import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LOGGER, Logger } from '@switchyard/observability';
import { PgListener } from '@switchyard/persistence';

/**
 * Starts the listening connection with the app (before the first request, so its lookups are kept for
 * AUTH_CACHE_MAX_AGE) and stops it on shutdown. Not listening is no reason to be unready: lookups are
 * then kept for AUTH_CACHE_TTL, as correct as before, only more frequent; the log says so.
 */
@Injectable()
export class ClinicChangesLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly listener: PgListener,
    @Inject(LOGGER) log: Logger,
  ) {
    listener.watch((listening, err) => {
      if (listening) log.info('listening for key, clinic and ingress limit changes');
      else log.warn({ err: { message: err?.message } }, 'not listening for key, clinic and ingress limit changes; their lookups are kept for AUTH_CACHE_TTL only');
    });
  }

  async onModuleInit() {
    await this.listener.start();
  }

  async onApplicationShutdown() {
    await this.listener.stop();
  }
}
