import { Module, OnApplicationShutdown } from '@nestjs/common';
import { PersistenceModule } from '@switchyard/persistence';
import { natsProvider } from '@switchyard/messaging';
import { deliveryProviders } from './delivery/delivery.providers';
import { DispatcherLifecycle } from './delivery/dispatcher-lifecycle.service';
import { FanoutShutdown } from './fanout-shutdown';
import { AckFloor } from './inbound/ack-floor';
import { FanOutEventUseCase } from './inbound/fan-out-event.usecase';
import { InboundConsumer } from './inbound/inbound.consumer';

@Module({
  imports: [PersistenceModule.forApp('fanout')],
  providers: [natsProvider('fanout'), AckFloor, ...deliveryProviders, DispatcherLifecycle, FanOutEventUseCase, InboundConsumer, FanoutShutdown],
})
export class FanoutAppModule implements OnApplicationShutdown {
  constructor(private readonly shutdown: FanoutShutdown) {}

  /** The app's only shutdown hook: FanoutShutdown owns the order (Nest would run its parts' hooks at once). */
  async onApplicationShutdown() {
    await this.shutdown.run();
  }
}
