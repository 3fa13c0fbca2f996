import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DeliveryDispatcher } from '@switchyard/delivery';

/** Starts the dispatcher with the app, and lets attempts under way finish on shutdown. */
@Injectable()
export class DispatcherLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly dispatcher: DeliveryDispatcher) {}

  onApplicationBootstrap() {
    this.dispatcher.start();
  }

  async onApplicationShutdown() {
    await this.dispatcher.stop();
  }
}
