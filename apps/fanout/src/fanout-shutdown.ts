import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig, fanoutDrainMs } from '@switchyard/config';
import { DeliveryDispatcher, DeliveryScheduler, FlowControl } from '@switchyard/delivery';
import { NatsLink } from '@switchyard/messaging';
import { LOGGER, Logger } from '@switchyard/observability';
import { PgListener } from '@switchyard/persistence';
import { InboundConsumer } from './inbound/inbound.consumer';

/**
 * Stops fan-out in one order (SIGTERM of a rolling deploy, or the app's `close()`), so that nothing under
 * way outlives what it needs: an attempt its slot, a record or a store its pool, an ack its connection.
 *
 * 1. No new work: the consumer takes no more messages (those its client holds go back to JetStream at once),
 *    and new deliveries start no attempt (a message being handled stores them queued, for another replica).
 * 2. The scheduler starts no poll; one under way finishes (what it leased is started). It stops together
 *    with the consumer, so that deliveries stored queued meanwhile do not wake it.
 * 3. Drain: the messages being handled are stored and acked, then every attempt under way ends and is
 *    recorded — those that started during steps 1 and 2 included. Bounded by fanoutDrainMs (32.5 s with
 *    the defaults); past it what is still under way is not written down (see below).
 * 4. The in-flight slots are given back.
 * 5. The listening connection, NATS (pending acks are flushed) and the Postgres pool are closed, last.
 *
 * Nothing is half done: a message is acked only after its store committed (the store is idempotent by event
 * id, so a message that comes back finds it stored); an attempt still under way when the drain runs out is
 * called off with its slot and not recorded, and its delivery, stored `delivering`, is attempted again when
 * its lease runs out; a message still being handled is not acked and comes back after FANOUT_ACK_WAIT.
 */
@Injectable()
export class FanoutShutdown {
  private readonly drainMs: number;

  constructor(
    private readonly consumer: InboundConsumer,
    private readonly scheduler: DeliveryScheduler,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly flow: FlowControl,
    private readonly listener: PgListener,
    private readonly nats: NatsLink,
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.drainMs = fanoutDrainMs(config);
  }

  async run(): Promise<void> {
    const deadline = performance.now() + this.drainMs;
    this.dispatcher.stopAdmitting();
    await Promise.all([this.consumer.stopTaking(), this.scheduler.stop(deadline)]);
    const messagesDone = await this.consumer.drain(deadline);
    const attemptsDone = await this.dispatcher.drain(deadline);
    if (!messagesDone || !attemptsDone) {
      this.log.warn(
        { drain_ms: this.drainMs, messages: this.consumer.handling, attempts_and_records: this.dispatcher.underWay },
        'fan-out stopped with work still under way: its messages are not acked and come back; its attempts are called off, not recorded, and made again when their leases run out',
      );
    }
    await this.flow.stop();
    await this.listener.stop();
    await this.nats.close();
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
