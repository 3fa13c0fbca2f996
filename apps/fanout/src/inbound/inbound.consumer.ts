import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ROOT_CONTEXT, Span, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { JsMsg } from '@nats-io/jetstream';
import { settledBy } from '@switchyard/batching';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { INBOUND_SCHEMA_V1, KNOWN_EVENT_NAMES, MessageHeaders, isSafeSubjectToken, subjectsFor } from '@switchyard/contracts';
import { LOGGER, Logger, Metrics, eventTypeLabel, tracingActive } from '@switchyard/observability';
import { DurableConsumer, NatsLink, consumeInbound } from '@switchyard/messaging';
import { DeliveryRepository } from '@switchyard/persistence';
import { FanOutEventUseCase, FanOutStepFailed, InboundEvent } from './fan-out-event.usecase';

/** Messages at most waiting for their first attempts to start before the next one is taken. */
const ADMITTING_MESSAGES = 64;

const tracer = trace.getTracer('switchyard-fanout');

/**
 * The durable `fanout` consumer of the inbound stream, shared by every fan-out replica. A message is
 * acknowledged only after its event and deliveries are committed (the ack floor then says it is stored:
 * see AckFloor); a database failure naks it with a delay so it comes back; a message that can never be
 * processed (unknown schema, missing headers) is terminated and logged. Many messages are handled at once
 * (their first attempts overlap, their events are stored together). At shutdown (FanoutShutdown) it stops
 * taking messages, then lets those being handled finish.
 */
@Injectable()
export class InboundConsumer implements OnApplicationBootstrap {
  private messages?: DurableConsumer;
  private lagTimer?: NodeJS.Timeout;
  /** Messages being handled, with when their handling began. */
  private readonly inFlight = new Map<Promise<void>, { m: JsMsg; since: number }>();
  private workingTimer?: NodeJS.Timeout;
  private readonly ackWaitMs: number;
  /** The highest stream sequence this process has taken, and the consumer had handed to any replica when last asked (see firstDelivery). */
  private highestSeq = 0;
  private deliveredThrough = 0;
  /** The highest stream sequence stored when this process started. */
  private storedThrough = 0;
  /** The delivered sequence reported before the last report, and how many messages the loop had been handed or the client held when the last answer came (see firstDelivery). */
  private deliveredBefore = 0;
  private receivedBeforeReport = 0;
  /** Messages the loop has been handed. */
  private yielded = 0;
  /** Messages whose first attempts are still waiting to start (for a slot or a place), and the loop waiting for them. */
  private admitting = 0;
  private admissionDone: Array<() => void> = [];
  private readonly subjects;
  private readonly maxConcurrent = 1_024;
  /** No attempt ended within the fast-path wait (they hang): messages are taken without waiting for room until some frees. */
  private roomStalled = false;
  /** Set at shutdown: a message the loop gets from now on is handed back (see stopTaking). */
  private stopping = false;
  /** Ends the loop's wait for its turn (room, admissions) under way, if any: the stop hands back what it holds. */
  private endTurnWait?: () => void;
  /** Set once shutdown's drain ran out: messages still being handled are neither acked nor nak'ed (see drain). */
  private abandoned = false;

  constructor(
    private readonly nats: NatsLink,
    private readonly fanOut: FanOutEventUseCase,
    private readonly deliveries: DeliveryRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.subjects = subjectsFor(config.NATS_PREFIX);
    this.ackWaitMs = config.FANOUT_ACK_WAIT;
  }

  async onApplicationBootstrap() {
    // Messages up to the highest sequence already stored may be stored (a consumer re-created from the
    // stream's start hands them out again as first deliveries): they are stored before anything is attempted.
    this.storedThrough = await this.deliveries.highestStoredSequence();
    this.messages = consumeInbound(this.nats, this.config, this.log, {
      maxMessages: 512,
      // A stream created anew (its NATS store lost, or deleted under us) numbers on past every message
      // stored or taken here, so those stay behind the new ones in order and the guard above holds.
      firstSequence: async () => Math.max(await this.deliveries.highestStoredSequence(), this.highestSeq) + 1,
    });
    void this.loop(this.messages);
    void this.reportLag();
    this.lagTimer = setInterval(() => void this.reportLag(), 5_000);
    this.lagTimer.unref();
    // A message whose handling outlasts a third of the ack wait (Postgres slow) tells JetStream it is still
    // ours, so it is not handed to another replica meanwhile. One timer for all, not one per message.
    const every = Math.max(100, Math.floor(this.ackWaitMs / 3));
    this.workingTimer = setInterval(() => {
      const old = performance.now() - every;
      for (const { m, since } of this.inFlight.values()) if (since < old) m.working();
    }, every);
    this.workingTimer.unref();
  }

  /**
   * Shutdown, first step: takes no more messages. The pull stops; the messages the client had already
   * received are nak'ed without a delay as the loop gets them, so JetStream hands them to another replica
   * at once (as redeliveries: stored before they are attempted), and so is one the loop held while it
   * waited for room: it stops waiting then, not when room frees (an attempt under way may hold it up to its
   * timeout). Messages already being handled go on (see drain).
   */
  async stopTaking(): Promise<void> {
    this.stopping = true;
    this.endTurnWait?.();
    clearInterval(this.lagTimer);
    await this.messages?.close().catch(() => undefined);
  }

  /** Messages being handled. */
  get handling(): number {
    return this.inFlight.size;
  }

  /**
   * Shutdown, once no message is taken: waits until the messages being handled are stored and acked (or
   * nak'ed), or until `deadline` (performance.now() clock); whether they all were. One still being handled
   * then is left alone: not acked, it comes back after FANOUT_ACK_WAIT (to a replica that finds it stored,
   * if its store went through).
   */
  async drain(deadline: number): Promise<boolean> {
    const drained = await settledBy(this.inFlight, deadline);
    this.abandoned = !drained;
    clearInterval(this.workingTimer);
    return drained;
  }

  private async loop(messages: DurableConsumer) {
    for await (const m of messages) {
      const index = ++this.yielded;
      // One promise per wait, not a race with one promise that settles at the stop: each race would leave a
      // reaction on that promise until then, a few hundred bytes per message for the life of the process.
      if (!this.stopping) {
        await new Promise<void>((resolve, reject) => {
          this.endTurnWait = resolve;
          this.turn().then(resolve, reject);
        });
        this.endTurnWait = undefined;
      }
      if (this.stopping) {
        m.nak();
        continue;
      }
      const p = this.handle(m, index).finally(() => this.inFlight.delete(p));
      this.inFlight.set(p, { m, since: performance.now() });
    }
  }

  /** Waits until the next message may be handled. */
  private async turn(): Promise<void> {
    if (this.inFlight.size >= this.maxConcurrent) await Promise.race(this.inFlight.keys());
    // Take the next message once few are still waiting for their first attempts to start: a burst (a
    // backlog, a stream coming back) is then taken at the pace deliveries go out, each straight from its
    // message, instead of queueing in Postgres.
    while (this.admitting >= ADMITTING_MESSAGES) await new Promise<void>((r) => this.admissionDone.push(r));
    // And once this process has room for its attempts (see FanOutEventUseCase.hasRoom). When no attempt
    // ends within the fast-path wait (attempts hang), intake stops waiting for room until some frees:
    // messages then go on being taken and queued as before, so stuck attempts do not stop intake. Room
    // that frees and goes to others (queued work owed it) is not a stall: intake goes on waiting its turn.
    // (Taken for one, it let intake fill every place freed for the queue, which then waited for the
    // stream to run dry — bench/RESULTS.md, tenth round.)
    if (this.fanOut.hasRoom()) this.roomStalled = false;
    else if (!this.roomStalled && (await this.fanOut.waitForRoom(performance.now() + this.config.DELIVERY_FAST_PATH_WAIT)) === 'stalled') this.roomStalled = true;
  }

  private handle(m: JsMsg, index: number): Promise<void> {
    const h = m.headers;
    const schema = h?.get(MessageHeaders.schema);
    const eventId = h?.get(MessageHeaders.eventId) ?? '';
    const clinicId = h?.get(MessageHeaders.clinicId) ?? '';
    const eventName = h?.get(MessageHeaders.eventName) ?? '';
    const receivedAt = h?.get(MessageHeaders.receivedAt) ?? '';
    if (schema !== INBOUND_SCHEMA_V1 || !/^[0-9a-f-]{36}$/.test(eventId) || !isSafeSubjectToken(clinicId) || !eventName || !receivedAt) {
      this.log.error({ seq: m.seq, subject: m.subject, schema }, 'inbound message cannot be processed; terminated');
      // No reason: nats-server before 2.10.4 reads `+TERM <reason>` as no acknowledgement at all, and the
      // message came back every FANOUT_ACK_WAIT for ever (the log line above says why it was terminated).
      m.term();
      // Its event is dropped for good: counted, so that it can be seen and alerted on.
      this.metrics.fanoutEvents.inc({ event_type: eventTypeLabel(eventName, KNOWN_EVENT_NAMES), result: 'invalid' });
      return Promise.resolve();
    }
    const event: InboundEvent = { id: eventId, clinicId, eventName, payload: m.string(), receivedAt: new Date(receivedAt), traceParent: h?.get('traceparent') || null, streamSeq: m.seq };
    // With no tracer provider the span would be a no-op: the message's own traceparent is stored as it came.
    if (!tracingActive()) return this.process(m, index, event);
    const carrier: Record<string, string> = {};
    for (const k of ['traceparent', 'tracestate']) {
      const v = h?.get(k);
      if (v) carrier[k] = v;
    }
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    return tracer.startActiveSpan(
      `${this.subjects.inboundStream} process`,
      { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'nats', 'switchyard.event_id': eventId, 'switchyard.clinic_id': clinicId } },
      parent,
      async (span) => {
        const spanCarrier: Record<string, string> = {};
        propagation.inject(context.active(), spanCarrier);
        try {
          await this.process(m, index, { ...event, traceParent: spanCarrier.traceparent ?? event.traceParent }, span);
        } finally {
          span.end();
        }
      },
    );
  }

  /** Fans the event out and acknowledges its message once it is stored (a failed step naks it). */
  private async process(m: JsMsg, index: number, event: InboundEvent, span?: Span): Promise<void> {
    try {
      this.admitting++;
      let admitted = false;
      const onAdmitted = () => {
        if (admitted) return;
        admitted = true;
        this.admitting--;
        this.admissionDone.splice(0).forEach((r) => r());
      };
      const result = await this.fanOut.execute(event, this.firstDelivery(m, index), onAdmitted).finally(onAdmitted);
      if (this.abandoned) return;
      m.ack();
      // A first delivery stored as new is routine (the event and its deliveries are in Postgres, and
      // `switchyard_fanout_events_total` counts it): `debug`, like a successful attempt. A redelivered
      // message or a duplicate event is worth an operator's eye: `info`. At `info` for every event this
      // line was ~4 % of a draining fan-out's CPU (bench/RESULTS.md, tenth round).
      const routine = result.created && m.info.deliveryCount === 1;
      if (!routine || this.log.isLevelEnabled('debug')) {
        this.log[routine ? 'debug' : 'info'](
          { clinic_id: event.clinicId, event_id: event.id, seq: m.seq, delivery_count: m.info.deliveryCount, deliveries: result.deliveries, duplicate: !result.created },
          'event fanned out',
        );
      }
    } catch (err) {
      span?.recordException(err as Error);
      if (this.abandoned) return;
      // The step says what failed: looking up the clinic's subscribers, flow control's slots or rate tokens, or
      // the store. Each is a Postgres statement, and nothing was stored: the whole event comes back.
      const step = err instanceof FanOutStepFailed ? err.step : 'unknown';
      this.log.error({ clinic_id: event.clinicId, event_id: event.id, step, err: { message: (err as Error).message } }, 'fanning out an event failed; its message comes back in 2 s');
      m.nak(2_000);
    }
  }

  /**
   * Whether this is the message's first delivery: only then may fan-out attempt straight from it (one
   * delivered before may already be stored, by whoever took it then). The delivery count alone cannot say
   * so: nats-server before 2.10.15 (nats-server#5305) may hand out a message again with a count of 1 after
   * failing to deliver it to a pull request of a crashed client. First deliveries go out in stream order,
   * so a "first" delivery behind a sequence this process has already seen, or behind the consumer's
   * delivered sequence as last reported (every 5 s, for all replicas), is not one; nor is one at or below
   * the highest sequence stored when this process started (a consumer re-created from the stream's start
   * hands every message out again with a count of 1, to a process that may have just started). The
   * messages this client had already received when a report came back (handed to the loop or still
   * buffered: the server wrote them before its answer) are held only to the report before it: the report
   * counts them as delivered because they were delivered to us, and demoting a full buffer of them every
   * 5 s sent a backlog's deliveries to the Postgres queue, where the fast path starved them
   * (bench/RESULTS.md, fifth round).
   */
  private firstDelivery(m: JsMsg, index: number): boolean {
    const bound = index <= this.receivedBeforeReport ? this.deliveredBefore : this.deliveredThrough;
    const first = !m.redelivered && m.seq > this.highestSeq && m.seq > bound && m.seq > this.storedThrough;
    this.highestSeq = Math.max(this.highestSeq, m.seq);
    return first;
  }

  private async reportLag() {
    try {
      const info = await this.messages?.info();
      if (!info || !this.messages) return;
      // First deliveries go out in stream order, so every message up to this sequence had been handed to
      // some replica when the server answered: one handed out later "for the first time" is a repeat.
      this.deliveredBefore = this.deliveredThrough;
      this.deliveredThrough = Math.max(this.deliveredThrough, info.delivered.stream_seq);
      this.receivedBeforeReport = this.yielded + this.messages.buffered();
      this.metrics.consumerPending.set({ consumer: this.subjects.fanoutConsumer }, info.num_pending);
      this.metrics.consumerAckPending.set({ consumer: this.subjects.fanoutConsumer }, info.num_ack_pending);
    } catch {
      // NATS unavailable: readiness reports it; the gauges keep their last value.
    }
  }
}
