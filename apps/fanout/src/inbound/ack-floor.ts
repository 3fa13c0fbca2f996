import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { NATS } from '@switchyard/messaging';

/** An answer younger than this is reused: the scheduler may ask many times a second while ordered work waits. */
const FRESH_MS = 20;

/**
 * Through which stream sequence every inbound message is stored: the fan-out consumer's ack floor. Fan-out
 * acknowledges a message only after its event and deliveries are committed, and every replica consumes
 * the same durable consumer, so every message at or below the floor is in Postgres, whichever replica
 * took it — which is what an ordered delivery waits for before it may go.
 */
@Injectable()
export class AckFloor {
  private jsm?: JetStreamManager;
  private last?: { at: number; value: number };
  private asking?: Promise<number | null>;
  private readonly subjects;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.subjects = subjectsFor(config.NATS_PREFIX);
  }

  /** The ack floor's stream sequence, or null when NATS cannot say (ordered deliveries then wait). */
  storedThrough(): Promise<number | null> {
    if (this.last && performance.now() - this.last.at < FRESH_MS) return Promise.resolve(this.last.value);
    this.asking ??= this.ask().finally(() => (this.asking = undefined));
    return this.asking;
  }

  private async ask(): Promise<number | null> {
    try {
      this.jsm ??= await jetstreamManager(this.nc);
      const info = await this.jsm.consumers.info(this.subjects.inboundStream, this.subjects.fanoutConsumer);
      this.last = { at: performance.now(), value: info.ack_floor.stream_seq };
      return this.last.value;
    } catch {
      return null;
    }
  }
}
