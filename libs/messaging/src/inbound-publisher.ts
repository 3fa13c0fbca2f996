import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { NatsLink } from './nats-link';
import { PubAcks } from './pub-acks';
import { INBOUND_SCHEMA_V1, MessageHeaders, Subjects } from '@switchyard/contracts';

export interface InboundPublish {
  eventId: string;
  clinicId: string;
  eventName: string;
  receivedAt: string;
  /** The original request body bytes. */
  body: Uint8Array;
}

const tracer = trace.getTracer('switchyard-messaging');

export interface PublishResult {
  seq: number;
  duplicate: boolean;
}

/**
 * Publishes inbound events and waits for the PubAck: only then is the event durably in the stream. Each
 * publish is a PRODUCER span whose W3C context (traceparent, tracestate) travels in the message headers.
 * On an app's NatsLink, a publish before the first connection fails at once (NatsUnavailableError), so
 * ingress answers 503 while NATS is not there yet, and publishes again once it is, without a restart.
 */
export class InboundPublisher {
  private acks?: PubAcks;
  private acksOf?: NatsConnection;

  constructor(
    private readonly nats: NatsLink | NatsConnection,
    private readonly subjects: Subjects,
    private readonly timeoutMs: number,
  ) {}

  /** The PubAcks of the connection there is now (the link may have made a new one). */
  private client(): PubAcks {
    const nc = this.nats instanceof NatsLink ? this.nats.require() : this.nats;
    if (nc !== this.acksOf) {
      this.acks = new PubAcks(nc, this.timeoutMs);
      this.acksOf = nc;
    }
    return this.acks!;
  }

  async publish(m: InboundPublish): Promise<PublishResult> {
    const h = natsHeaders();
    h.set('Nats-Msg-Id', m.eventId); // the stream's deduplication window keeps a resend from being stored twice
    h.set(MessageHeaders.schema, INBOUND_SCHEMA_V1);
    h.set(MessageHeaders.eventId, m.eventId);
    h.set(MessageHeaders.clinicId, m.clinicId);
    h.set(MessageHeaders.eventName, m.eventName);
    h.set(MessageHeaders.receivedAt, m.receivedAt);
    const subject = this.subjects.inbound(m.clinicId);
    return tracer.startActiveSpan(
      `${this.subjects.inboundStream} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'send',
          'messaging.destination.name': subject,
          'messaging.message.id': m.eventId,
          'switchyard.clinic_id': m.clinicId,
        },
      },
      async (span) => {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        for (const [k, v] of Object.entries(carrier)) h.set(k, v);
        try {
          const ack = await this.client().publish(subject, m.body, h);
          span.setAttribute('switchyard.stream_seq', ack.seq);
          if (ack.duplicate) span.setAttribute('switchyard.duplicate', true);
          return { seq: ack.seq, duplicate: ack.duplicate };
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }
}
