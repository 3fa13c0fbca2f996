import { Inject, Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { DeliveryScheduler } from '@switchyard/delivery';
import { DELIVERIES_DUE_CHANNEL, PgListener, payloadFor } from '@switchyard/persistence';
import { LOGGER, Logger } from '@switchyard/observability';
import { FLOW_HOLDER } from './delivery.providers';

/**
 * Starts the scheduler and the listening connection with the app (FanoutShutdown stops them, in its order).
 * Due-work announcements from other replicas and the admin API (`<schema>:<holder>`, never our own) wake
 * the scheduler.
 */
@Injectable()
export class DispatcherLifecycle implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly scheduler: DeliveryScheduler,
    private readonly listener: PgListener,
    @Inject(FLOW_HOLDER) holder: string,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) log: Logger,
  ) {
    listener.on(DELIVERIES_DUE_CHANNEL, (payload) => {
      const from = payloadFor(config.DATABASE_SCHEMA, payload);
      if (from !== null && from !== holder) scheduler.wake();
    });
    listener.watch((listening, err) => {
      scheduler.setListening(listening);
      if (listening) log.info('listening for subscriber changes and due deliveries');
      else log.warn({ err: { message: err?.message } }, 'not listening for subscriber changes and due deliveries; subscriber lookups read Postgres and the scheduler polls every DELIVERY_POLL_INTERVAL');
    });
  }

  /** Before the consumer starts (at bootstrap): the first messages already find subscriber lookups cached. */
  async onModuleInit() {
    await this.listener.start();
  }

  onApplicationBootstrap() {
    this.scheduler.start();
  }
}
