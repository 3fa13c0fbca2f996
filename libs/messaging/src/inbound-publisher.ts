import { NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { JetStreamClient, jetstream } from '@nats-io/jetstream';
import { INBOUND_SCHEMA_V1, MessageHeaders, Subjects } from '@switchyard/contracts';

export interface InboundPublish {
  eventId: string;
  clinicId: string;
  eventName: string;
  receivedAt: string;
  /** The original request body bytes. */
  body: Uint8Array;
  /** W3C trace context headers to carry (traceparent, tracestate). */
  traceHeaders: Record<string, string>;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
}

/** Publishes inbound events and waits for the PubAck: only then is the event durably in the stream. */
export class InboundPublisher {
  private readonly js: JetStreamClient;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly timeoutMs: number,
  ) {
    this.js = jetstream(nc);
  }

  async publish(m: InboundPublish): Promise<PublishResult> {
    const h = natsHeaders();
    h.set(MessageHeaders.schema, INBOUND_SCHEMA_V1);
    h.set(MessageHeaders.eventId, m.eventId);
    h.set(MessageHeaders.clinicId, m.clinicId);
    h.set(MessageHeaders.eventName, m.eventName);
    h.set(MessageHeaders.receivedAt, m.receivedAt);
    for (const [k, v] of Object.entries(m.traceHeaders)) h.set(k, v);
    const ack = await this.js.publish(this.subjects.inbound(m.clinicId), m.body, {
      msgID: m.eventId,
      headers: h,
      timeout: this.timeoutMs,
    });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  isConnected(): boolean {
    return !this.nc.isClosed() && this.nc.info !== undefined && !this.isReconnecting;
  }

  private isReconnecting = false;
  watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') this.isReconnecting = true;
        if (s.type === 'reconnect') this.isReconnecting = false;
      }
    })();
  }
}
