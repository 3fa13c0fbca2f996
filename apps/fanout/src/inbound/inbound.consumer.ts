import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { JsMsg } from '@nats-io/jetstream';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { INBOUND_SCHEMA_V1, MessageHeaders, isSafeSubjectToken, subjectsFor } from '@switchyard/contracts';
import { LOGGER, Logger, Metrics } from '@switchyard/observability';
import { DurableConsumer, NatsLink, consumeInbound } from '@switchyard/messaging';
import { StoreInboundEventUseCase } from './store-inbound-event.usecase';

const tracer = trace.getTracer('switchyard-fanout');

/**
 * The durable `fanout` consumer of the inbound stream. A message is acknowledged only after its event
 * and deliveries are committed; a database failure naks it with a delay so it comes back; a message that
 * can never be processed (unknown schema, missing headers) is terminated and logged.
 */
@Injectable()
export class InboundConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private messages?: DurableConsumer;
  private lagTimer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly subjects;
  private readonly maxConcurrent = 64;

  constructor(
    private readonly nats: NatsLink,
    private readonly store: StoreInboundEventUseCase,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.subjects = subjectsFor(config.NATS_PREFIX);
  }

  async onApplicationBootstrap() {
    this.messages = consumeInbound(this.nats, this.config, this.log, 256);
    void this.loop(this.messages);
    void this.reportLag();
    this.lagTimer = setInterval(() => void this.reportLag(), 5_000);
    this.lagTimer.unref();
  }

  async onApplicationShutdown() {
    clearInterval(this.lagTimer);
    await this.messages?.close().catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
  }

  private async loop(messages: DurableConsumer) {
    for await (const m of messages) {
      if (this.inFlight.size >= this.maxConcurrent) await Promise.race(this.inFlight);
      const p = this.handle(m).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const h = m.headers;
    const schema = h?.get(MessageHeaders.schema);
    const eventId = h?.get(MessageHeaders.eventId) ?? '';
    const clinicId = h?.get(MessageHeaders.clinicId) ?? '';
    const eventName = h?.get(MessageHeaders.eventName) ?? '';
    const receivedAt = h?.get(MessageHeaders.receivedAt) ?? '';
    if (schema !== INBOUND_SCHEMA_V1 || !/^[0-9a-f-]{36}$/.test(eventId) || !isSafeSubjectToken(clinicId) || !eventName || !receivedAt) {
      this.log.error({ seq: m.seq, subject: m.subject, schema }, 'inbound message cannot be processed; terminated');
      m.term('unknown schema or missing headers');
      return;
    }
    const carrier: Record<string, string> = {};
    for (const k of ['traceparent', 'tracestate']) {
      const v = h?.get(k);
      if (v) carrier[k] = v;
    }
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    await tracer.startActiveSpan(
      `${this.subjects.inboundStream} process`,
      { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'nats', 'switchyard.event_id': eventId, 'switchyard.clinic_id': clinicId } },
      parent,
      async (span) => {
        const spanCarrier: Record<string, string> = {};
        propagation.inject(context.active(), spanCarrier);
        try {
          const result = await this.store.execute({
            id: eventId,
            clinicId,
            eventName,
            payload: m.string(),
            receivedAt: new Date(receivedAt),
            traceParent: spanCarrier.traceparent ?? carrier.traceparent ?? null,
          });
          m.ack();
          this.log.info({ clinic_id: clinicId, event_id: eventId, deliveries: result.deliveries, duplicate: !result.created }, 'event fanned out');
        } catch (err) {
          span.recordException(err as Error);
          this.log.error({ clinic_id: clinicId, event_id: eventId, err: { message: (err as Error).message } }, 'storing event failed; will retry');
          m.nak(2_000);
        } finally {
          span.end();
        }
      },
    );
  }

  private async reportLag() {
    try {
      const info = await this.messages?.info();
      if (!info) return;
      this.metrics.consumerPending.set({ consumer: this.subjects.fanoutConsumer }, info.num_pending);
      this.metrics.consumerAckPending.set({ consumer: this.subjects.fanoutConsumer }, info.num_ack_pending);
    } catch {
      // NATS unavailable: readiness reports it; the gauges keep their last value.
    }
  }
}
