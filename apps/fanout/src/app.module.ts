import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { PersistenceModule } from '@switchyard/persistence';
import { NATS, natsProvider } from '@switchyard/messaging';
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
  constructor(@Inject(NATS) private readonly nc: NatsConnection) {}

  async onApplicationShutdown() {
    await this.nc.drain().catch(() => undefined);
  }
}
