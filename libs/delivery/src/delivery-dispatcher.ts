import type { Logger } from 'pino';
import { Context, ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { DeliveryJob, DeliveryRepository, AttemptResolution } from '@switchyard/persistence';
import { KNOWN_EVENT_NAMES } from '@switchyard/contracts';
import { Metrics, eventTypeLabel } from '@switchyard/observability';
import { RateLimiter } from './rate-limiter';
import { RetryPolicy } from './retry-policy';
import { AttemptResult, WebhookSender } from './webhook-sender';

const tracer = trace.getTracer('switchyard-delivery');

/** The context an attempt runs in: the trace stored with the event (the fan-out consume span), if any. */
function storedTraceContext(traceParent: string | null | undefined): Context {
  return traceParent ? propagation.extract(ROOT_CONTEXT, { traceparent: traceParent }) : ROOT_CONTEXT;
}

export interface DispatcherLimits {
  /** Attempts under way at once in this process. */
  concurrency: number;
  /** Attempts under way at once for one subscriber (a subscriber may set its own). */
  maxInFlightPerSubscriber: number;
  /** How often due retries are looked for when nothing wakes the loop. */
  pollIntervalMs: number;
  /** How long a taken delivery stays ours; after a crash it is taken again once this runs out. */
  leaseMs: number;
}

/**
 * Runs delivery attempts. New deliveries are handed over by fan-out already leased (`offer`); retries
 * and deliveries orphaned by a crash are found by a poller in Postgres (`FOR UPDATE SKIP LOCKED`), at
 * most a few per subscriber at a time. A slow or failing subscriber therefore holds at most its own
 * in-flight slots; its deliveries waiting in backoff are rows with a due time, holding nothing at all.
 */
export class DeliveryDispatcher {
  private readonly inFlight = new Map<string, number>();
  private total = 0;
  private timer?: NodeJS.Timeout;
  private reaper?: NodeJS.Timeout;
  private stopped = true;
  private polling = false;
  private pollAgain = false;
  /**
   * Whether due work may be waiting for a free slot: the last poll filled all the room it had, or fan-out
   * stored deliveries it could not start (`wake`). Only then does a finished attempt trigger a poll;
   * otherwise the interval finds retries as they fall due (a poll per finished attempt cost more Postgres
   * round trips than the deliveries themselves).
   */
  private backlog = true;
  /**
   * Subscribers with deliveries waiting in the queue (and their in-flight limit). New deliveries to them
   * do not take the fast path, so they cannot overtake older ones; the flag drops once a poll finds less
   * waiting than the subscriber had room for.
   */
  private readonly waiting = new Map<string, number>();
  /** Attempts under way, with the delivery each holds a lease on. */
  private readonly running = new Map<Promise<void>, string>();
  private readonly rates = new RateLimiter();

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly sender: WebhookSender,
    private readonly policy: RetryPolicy,
    private readonly limits: DispatcherLimits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly hooks: { onGone?: (job: DeliveryJob) => Promise<void> } = {},
  ) {}

  start(): void {
    this.stopped = false;
    this.schedulePoll(0);
    // Three times per lease: renew the leases of attempts under way (an attempt may outlast one lease),
    // then free the leases of workers that stopped renewing (crashed).
    this.reaper = setInterval(() => {
      this.repo
        .renewLeases([...this.running.values()], this.limits.leaseMs)
        .then(() => this.repo.releaseExpiredLeases())
        .then(
          (n) => n > 0 && this.log.warn({ released: n }, 'deliveries whose lease ran out are due again'),
          (err) => this.log.error({ err }, 'renewing or releasing leases failed'),
        );
      this.repo.countDue().then((n) => this.metrics.deliveriesDue.set(n), () => undefined);
    }, Math.max(100, Math.floor(this.limits.leaseMs / 3)));
    this.reaper.unref();
  }

  /** Stops taking work and waits for attempts under way (up to `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.reaper);
    await Promise.race([Promise.allSettled([...this.running.keys()]), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }

  /**
   * Reserves a slot for a new delivery to this subscriber if it may start right away in this process.
   * The slot is taken now, before the delivery is stored, so concurrent fan-outs cannot all see the same
   * free slot; hand it over with `offer(jobs, true)` or give it back with `release`. No slot is given
   * while the poller is leasing: it sized its lease on the slots free when it started, and a slot taken
   * meanwhile would let the two together exceed the subscriber's `max_in_flight`.
   */
  reserve(subscriberId: string, subscriberLimit: number | null): boolean {
    if (this.polling || this.waiting.has(subscriberId)) return false;
    const room = this.total < this.limits.concurrency && (this.inFlight.get(subscriberId) ?? 0) < (subscriberLimit ?? this.limits.maxInFlightPerSubscriber);
    if (room) this.occupy(subscriberId);
    return room;
  }

  /** Gives back a slot taken by `reserve` that no delivery used. */
  release(subscriberId: string): void {
    this.freeSubscriberSlot(subscriberId);
    this.total--;
  }

  /** The subscriber's side of a slot: free once its HTTP exchange is over, even before the attempt is recorded. */
  private freeSubscriberSlot(subscriberId: string): void {
    const n = (this.inFlight.get(subscriberId) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(subscriberId);
    else this.inFlight.set(subscriberId, n);
  }

  /** Starts attempts for deliveries this process already holds a lease on (`reserved`: their slots are taken). */
  offer(jobs: DeliveryJob[], reserved = false): void {
    for (const job of jobs) {
      if (!reserved) this.occupy(job.subscriber.id);
      this.run(job);
    }
  }

  /** Notes that deliveries to this subscriber wait in the queue (fan-out stored them `pending`). */
  noteWaiting(subscriberId: string, subscriberLimit: number | null): void {
    this.waiting.set(subscriberId, subscriberLimit ?? this.limits.maxInFlightPerSubscriber);
  }

  /** Asks the poller to look for due work now (e.g. after a replay). */
  wake(): void {
    this.backlog = true;
    if (this.polling) this.pollAgain = true;
    else this.schedulePoll(0);
  }

  private schedulePoll(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // Timers inherit the async context they are created in: the poller belongs to no request's trace.
    this.timer = context.with(ROOT_CONTEXT, () => setTimeout(() => void this.poll(), delayMs));
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    let took = 0;
    try {
      const room = this.limits.concurrency - this.total;
      if (room > 0) {
        const inFlightBefore = new Map(this.inFlight);
        const jobs = await this.repo.leaseDue(room, this.limits.maxInFlightPerSubscriber, inFlightBefore, this.limits.leaseMs);
        took = jobs.length;
        this.backlog = took >= room;
        if (!this.backlog) this.forgetDrained(jobs, inFlightBefore);
        this.offer(jobs);
      } else {
        this.backlog = true;
      }
    } catch (err) {
      this.log.error({ err }, 'looking for due deliveries failed');
    } finally {
      this.polling = false;
    }
    // Asked again meanwhile, or a full batch (more may be due): look again soon; otherwise wait for the interval.
    const again = this.pollAgain || (took > 0 && this.backlog);
    this.pollAgain = false;
    this.schedulePoll(again ? 10 : this.limits.pollIntervalMs);
  }

  /** After a poll that was not cut short by the global limit: subscribers that got less than their room have nothing left waiting. */
  private forgetDrained(jobs: DeliveryJob[], inFlightBefore: Map<string, number>): void {
    const got = new Map<string, number>();
    for (const j of jobs) got.set(j.subscriber.id, (got.get(j.subscriber.id) ?? 0) + 1);
    for (const [id, limit] of this.waiting) {
      if ((got.get(id) ?? 0) < limit - (inFlightBefore.get(id) ?? 0)) this.waiting.delete(id);
    }
  }

  private occupy(subscriberId: string): void {
    this.inFlight.set(subscriberId, (this.inFlight.get(subscriberId) ?? 0) + 1);
    this.total++;
  }

  /** Runs one attempt in a slot already occupied for its subscriber, and frees the slot after. */
  private run(job: DeliveryJob): void {
    const sid = job.subscriber.id;
    const waitMs = this.rates.take(sid, job.subscriber.rateLimitPerSecond);
    if (waitMs > 0) {
      this.release(sid);
      // Throttled, not failed: back in the queue without spending an attempt.
      this.log.debug({ delivery_id: job.deliveryId, subscriber_id: sid, retry_in_ms: waitMs }, 'delivery throttled by the subscriber rate limit');
      this.repo.defer(job.deliveryId, waitMs).catch((err) => this.log.error({ err, delivery_id: job.deliveryId }, 'deferring a throttled delivery failed'));
      return;
    }
    this.metrics.deliveriesInFlight.inc();
    // The subscriber's slot is freed as soon as its answer is in (max_in_flight counts requests to the
    // subscriber); the process-wide slot only once the attempt is recorded, which bounds the work queued
    // behind Postgres.
    let subscriberSlotHeld = true;
    const onAnswered = () => {
      if (!subscriberSlotHeld) return;
      subscriberSlotHeld = false;
      this.freeSubscriberSlot(sid);
      this.metrics.deliveriesInFlight.dec();
      this.pollIfBacklog();
    };
    const p = this.attempt(job, onAnswered)
      .catch((err) => this.log.error({ err, delivery_id: job.deliveryId }, 'delivery attempt failed unexpectedly'))
      .finally(() => {
        onAnswered();
        this.total--;
        this.running.delete(p);
        this.pollIfBacklog();
      });
    this.running.set(p, job.deliveryId);
  }

  private pollIfBacklog(): void {
    if (!this.backlog) return;
    this.pollAgain = true;
    if (!this.polling) this.schedulePoll(0);
  }

  /**
   * One attempt, as a span in the event's own trace (parent: the stored traceparent), so a retry an hour
   * later still joins the trace of the ingress request. When tracing is on, the undici instrumentation adds
   * the `traceparent` of its CLIENT span to the request (it appends: sending ours as well would duplicate
   * the header); when it is off, the stored traceparent is passed through unchanged.
   */
  private attempt(job: DeliveryJob, onAnswered: () => void): Promise<void> {
    const attempt = job.attemptCount + 1;
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
            const extra: Record<string, string> =
              propagated.traceparent || !job.event.traceParent ? {} : { traceparent: job.event.traceParent };
            const outcome = await this.attemptIn(job, attempt, extra, onAnswered);
            span.setAttribute('switchyard.outcome', outcome);
            if (outcome !== 'success') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
          } finally {
            span.end();
          }
        },
      ),
    );
  }

  private async attemptIn(job: DeliveryJob, attempt: number, extra: Record<string, string>, onAnswered: () => void): Promise<string> {
    const eventType = eventTypeLabel(job.event.eventName, KNOWN_EVENT_NAMES);
    const result = await this.sender.send(job, extra);
    onAnswered();
    const resolution = this.resolve(result, attempt);

    await this.repo.recordAttempt(
      {
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
    );

    this.metrics.deliveryAttempts.inc({
      outcome: result.outcome,
      attempt: String(Math.min(attempt, 10)),
      ...this.metrics.clinicLabels(job.event.clinicId),
    });
    this.metrics.attemptDuration.observe({ outcome: result.outcome }, result.durationMs / 1000);
    const fields = {
      clinic_id: job.event.clinicId,
      event_id: job.event.id,
      delivery_id: job.deliveryId,
      subscriber_id: job.subscriber.id,
      attempt,
      outcome: result.outcome,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
    };
    switch (resolution.kind) {
      case 'succeeded':
        this.metrics.endToEndDuration.observe({ event_type: eventType }, (Date.now() - job.event.receivedAt.getTime()) / 1000);
        this.log.debug(fields, 'delivered');
        break;
      case 'retry':
        this.metrics.retriesScheduled.inc({ attempt: String(Math.min(attempt, 10)) });
        this.log.info({ ...fields, error: result.error, retry_in_ms: resolution.delayMs }, 'attempt failed, retry scheduled');
        break;
      case 'dead':
        this.metrics.deadLetters.inc({ event_type: eventType });
        this.log.warn(
          { ...fields, error: result.error },
          result.outcome === 'unrenderable' ? 'delivery dead-lettered: its payload cannot be sent in this format' : 'delivery dead-lettered after its last attempt',
        );
        break;
      case 'parked':
        this.log.warn({ ...fields, reason: resolution.reason }, 'delivery parked');
        if (this.hooks.onGone) await this.hooks.onGone(job);
        break;
    }
    return result.outcome;
  }

  private resolve(result: AttemptResult, attempt: number): AttemptResolution {
    if (result.outcome === 'success') return { kind: 'succeeded' };
    if (result.outcome === 'unrenderable') return { kind: 'dead' };
    if (result.statusCode === 410 && this.hooks.onGone) return { kind: 'parked', reason: 'subscriber answered 410 Gone' };
    const delay = this.policy.delayAfter(attempt, result.retryAfterMs);
    return delay === null ? { kind: 'dead' } : { kind: 'retry', delayMs: delay };
  }
}
