import { Module, OnApplicationShutdown } from '@nestjs/common';
import { PersistenceModule } from '@switchyard/persistence';
import { NatsLink, natsProvider } from '@switchyard/messaging';
import { deliveryProviders } from './delivery/delivery.providers';
import { DispatcherLifecycle } from './delivery/dispatcher-lifecycle.service';
import { AckFloor } from './inbound/ack-floor';
import { FanOutEventUseCase } from './inbound/fan-out-event.usecase';
import { InboundConsumer } from './inbound/inbound.consumer';

@Module({
  imports: [PersistenceModule.forApp('fanout')],
  providers: [natsProvider('fanout'), AckFloor, ...deliveryProviders, DispatcherLifecycle, FanOutEventUseCase, InboundConsumer],
})
export class FanoutAppModule implements OnApplicationShutdown {
  constructor(private readonly nats: NatsLink) {}

  async onApplicationShutdown() {
    await this.nats.close();
  }
}
