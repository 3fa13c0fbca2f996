import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { PersistenceModule } from '@switchyard/persistence';
import { deliveryProviders } from './delivery/delivery.providers';
import { DispatcherLifecycle } from './delivery/dispatcher-lifecycle.service';
import { InboundConsumer } from './inbound/inbound.consumer';
import { StoreInboundEventUseCase } from './inbound/store-inbound-event.usecase';
import { NATS, natsProvider } from '@switchyard/messaging';

@Module({
  imports: [PersistenceModule.forApp('fanout')],
  providers: [natsProvider('fanout'), ...deliveryProviders, DispatcherLifecycle, StoreInboundEventUseCase, InboundConsumer],
})
export class FanoutAppModule implements OnApplicationShutdown {
  constructor(@Inject(NATS) private readonly nc: NatsConnection) {}

  async onApplicationShutdown() {
    await this.nc.drain().catch(() => undefined);
  }
}
