import { Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { LOGGER, Logger } from '@switchyard/observability';
import { PersistenceModule, SubscriberCache, SubscriberRepository } from '@switchyard/persistence';
import { deliveryProviders } from './delivery/delivery.providers';
import { DispatcherLifecycle } from './delivery/dispatcher-lifecycle.service';
import { InboundConsumer } from './inbound/inbound.consumer';
import { StoreInboundEventUseCase } from './inbound/store-inbound-event.usecase';
import { NatsLink, natsProvider } from '@switchyard/messaging';

@Module({
  imports: [PersistenceModule.forApp('fanout')],
  providers: [
    natsProvider('fanout'),
    ...deliveryProviders,
    {
      provide: SubscriberCache,
      inject: [SubscriberRepository, APP_CONFIG, LOGGER],
      useFactory: (repo: SubscriberRepository, c: AppConfig, log: Logger) =>
        new SubscriberCache(repo, {
          connect: () =>
            new Client({ connectionString: c.DATABASE_URL, application_name: 'switchyard-fanout-listen', connectionTimeoutMillis: 5_000, keepAlive: true }),
          schema: c.DATABASE_SCHEMA,
          ttlMs: c.SUBSCRIBER_CACHE_TTL,
          onListening: (listening, err) =>
            listening
              ? log.info('listening for subscriber changes; subscriber lookups are cached')
              : log.warn({ err: { message: err?.message } }, 'not listening for subscriber changes; every lookup reads Postgres until it is back'),
        }),
    },
    DispatcherLifecycle,
    StoreInboundEventUseCase,
    InboundConsumer,
  ],
})
export class FanoutAppModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly nats: NatsLink,
    private readonly subscribers: SubscriberCache,
  ) {}

  async onApplicationBootstrap() {
    await this.subscribers.start();
  }

  async onApplicationShutdown() {
    await this.subscribers.stop();
    await this.nats.close();
  }
}
