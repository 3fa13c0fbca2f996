import type { Logger } from 'pino';
import { Context, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { AttemptRecord, AttemptResolution, DeliveryJob } from '@switchyard/persistence';
import { KNOWN_EVENT_NAMES } from '@switchyard/contracts';
import { Metrics, eventTypeLabel, tracingActive } from '@switchyard/observability';
import type { Cancellation } from './cancellation';
import { RetryPolicy } from './retry-policy';
import { AttemptResult, WebhookSender } from './webhook-sender';

const tracer = trace.getTracer('switchyard-delivery');

/** An attempt that is over, and what it means for its delivery. */
export interface AttemptReport {
  attempt: AttemptRecord;
  resolution: AttemptResolution;
}

/** The stored traceparent as a header of the attempt, unless a propagator already added the attempt's own. */
function storedTraceHeader(job: DeliveryJob, propagated: boolean): Record<string, string> {
  return propagated || !job.event.traceParent ? {} : { traceparent: job.event.traceParent };
}

/** The context an attempt runs in: the trace stored with the event (the fan-out consume span), if any. */
function storedTraceContext(traceParent: string | null | undefined): Context {
  return traceParent ? propagation.extract(ROOT_CONTEXT, { traceparent: traceParent }) : ROOT_CONTEXT;
}

/**
 * One HTTP attempt of one delivery, observed: a span in the event's own trace, the attempt metrics and
 * one log line, and the resolution the retry policy gives it. Writing it down is the caller's (fan-out
 * stores a first attempt with its event; the scheduler records the others).
 */
export class AttemptRunner {
  constructor(
    private readonly sender: WebhookSender,
    private readonly policy: RetryPolicy,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Whether a 410 Gone parks the delivery (and disables its subscriber) instead of retrying. */
    private readonly parkOnGone: boolean,
  ) {}

  /**
   * Runs the attempt as a span whose parent is the stored traceparent, so a retry an hour later still joins
   * the ingress request's trace. With tracing on, the undici instrumentation adds the `traceparent` of its
   * CLIENT span (sending ours too would duplicate the header); with it off, the stored one is passed on.
   * `onAnswered` is called as soon as the HTTP exchange is over.
   */
  run(job: DeliveryJob, cancel: Cancellation | undefined, onAnswered: () => void): Promise<AttemptReport> {
    const attempt = job.attemptCount + 1;
    // No spans to make: the stored traceparent goes on as it is.
    if (!tracingActive()) return this.attempt(job, attempt, storedTraceHeader(job, false), cancel, onAnswered);
    return context.with(storedTraceContext(job.event.traceParent), () =>
      tracer.startActiveSpan(
        'delivery attempt',
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'switchyard.delivery_id': job.deliveryId,
            'switchyard.event_id': job.event.id,
            'switchyard.clinic_id': job.event.clinicId,
            'switchyard.subscriber_id': job.subscriber.id,
            'switchyard.attempt': attempt,
          },
        },
        async (span) => {
          try {
            const propagated: Record<string, string> = {};
            propagation.inject(context.active(), propagated);
            return await this.attempt(job, attempt, storedTraceHeader(job, Boolean(propagated.traceparent)), cancel, onAnswered, span);
          } finally {
            span.end();
          }
        },
      ),
    );
  }

  /** Sends the attempt and observes its result; marks its span, when it has one, with the outcome. */
  private attempt(
    job: DeliveryJob,
    attempt: number,
    extra: Record<string, string>,
    cancel: Cancellation | undefined,
    onAnswered: () => void,
    span?: Span,
  ): Promise<AttemptReport> {
    return this.sender
      .send(job, extra, cancel)
      .finally(onAnswered)
      .then((result) => {
        span?.setAttribute('switchyard.outcome', result.outcome);
        if (result.outcome !== 'success') span?.setStatus({ code: SpanStatusCode.ERROR, message: result.outcome });
        return this.observe(job, attempt, result);
      });
  }

  private observe(job: DeliveryJob, attempt: number, result: AttemptResult): AttemptReport {
    const resolution = this.resolve(result, attempt);
    const eventType = eventTypeLabel(job.event.eventName, KNOWN_EVENT_NAMES);
    this.metrics.deliveryAttempts.inc({
      outcome: result.outcome,
      attempt: String(Math.min(attempt, 10)),
      ...this.metrics.clinicLabels(job.event.clinicId),
    });
    this.metrics.attemptDuration.observe({ outcome: result.outcome }, result.durationMs / 1000);
    // Built only for a line that is written: a success is logged at debug, off in production.
    const fields = () => ({
      clinic_id: job.event.clinicId,
      event_id: job.event.id,
      delivery_id: job.deliveryId,
      subscriber_id: job.subscriber.id,
      attempt,
      outcome: result.outcome,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
    });
    switch (resolution.kind) {
      case 'succeeded':
        this.metrics.endToEndDuration.observe({ event_type: eventType }, (Date.now() - job.event.receivedAt.getTime()) / 1000);
        if (this.log.isLevelEnabled('debug')) this.log.debug(fields(), 'delivered');
        break;
      case 'retry':
        this.metrics.retriesScheduled.inc({ attempt: String(Math.min(attempt, 10)) });
        this.log.info({ ...fields(), error: result.error, retry_in_ms: resolution.delayMs }, 'attempt failed, retry scheduled');
        break;
      case 'dead':
        this.metrics.deadLetters.inc({ event_type: eventType });
        this.log.warn(
          { ...fields(), error: result.error },
          result.outcome === 'unrenderable' ? 'delivery dead-lettered: its payload cannot be sent in this format' : 'delivery dead-lettered after its last attempt',
        );
        break;
      case 'parked':
        this.log.warn({ ...fields(), reason: resolution.reason }, 'delivery parked');
        break;
    }
    return {
      attempt: {
        deliveryId: job.deliveryId,
        attempt,
        outcome: result.outcome,
        statusCode: result.statusCode,
        durationMs: result.durationMs,
        error: result.error,
        responseExcerpt: result.responseExcerpt,
        startedAt: result.startedAt,
      },
      resolution,
    };
  }

  private resolve(result: AttemptResult, attempt: number): AttemptResolution {
    if (result.outcome === 'success') return { kind: 'succeeded' };
    if (result.outcome === 'unrenderable') return { kind: 'dead' };
    if (result.statusCode === 410 && this.parkOnGone) return { kind: 'parked', reason: 'subscriber answered 410 Gone' };
    const delay = this.policy.delayAfter(attempt, result.retryAfterMs);
    return delay === null ? { kind: 'dead' } : { kind: 'retry', delayMs: delay };
  }
}
