import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { KNOWN_EVENT_NAMES, eventIdOf, idempotencyKeyOf, validateNimbusEvent } from '@switchyard/contracts';
import { ClaimReply, DedupeClient } from '@switchyard/dedupe';
import { InboundPublisher } from '@switchyard/messaging';
import { LOGGER, Logger, Metrics, eventTypeLabel } from '@switchyard/observability';
import { ApiError } from '@switchyard/web';
import { ClinicIngressRates } from './clinic-ingress-rates';
import { ClinicRateLimiter } from './clinic-rate-limiter';

export interface ReceivedEvent {
  clinicId: string;
  /** The parsed body. */
  body: unknown;
  /** The body bytes exactly as received. */
  rawBody: Buffer;
}

export type ReceiveResult = { received: true; event_id: string; duplicate?: true };

/** The event name a body claims before it is validated (for the metric label), or ''. */
function claimedEventName(body: unknown): string {
  const name = (body as { event_name?: unknown })?.event_name;
  return typeof name === 'string' ? name : '';
}

/** Seconds a sender is asked to wait before retrying when a dependency (the key store, dedupe, JetStream) kept its event out. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Per-clinic rate limit → validate → claim the idempotency key → publish and await the PubAck → complete
 * the claim. A 200 is answered only once the event is in JetStream; if publishing fails the claim is released so the
 * sender's retry counts as new, and the answer is 503 with Retry-After.
 */
@Injectable()
export class ReceiveNimbusEventUseCase {
  constructor(
    private readonly dedupe: DedupeClient,
    private readonly publisher: InboundPublisher,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly limiter: ClinicRateLimiter,
    private readonly rates: ClinicIngressRates,
  ) {}

  async execute(input: ReceivedEvent): Promise<ReceiveResult> {
    // When the request reached us, not when the claim came back: end-to-end latency starts here.
    const receivedAt = new Date().toISOString();
    const allowed = this.limiter.take(input.clinicId, await this.rates.rateOf(input.clinicId));
    if (!allowed.ok) {
      this.count(input.clinicId, claimedEventName(input.body), 'rejected', 'rate_limited');
      throw ApiError.rateLimited(allowed.retryAfterSeconds);
    }
    const validation = validateNimbusEvent(input.body);
    if (!validation.ok) {
      this.count(input.clinicId, claimedEventName(input.body), 'rejected', 'invalid');
      const first = validation.problems[0]!;
      throw new ApiError(400, 'invalid_event', `${first.field}: ${first.message}`, validation.problems);
    }
    const event = validation.event;
    const key = idempotencyKeyOf(input.clinicId, event, input.rawBody);
    const eventId = eventIdOf(key);
    const fields = { clinic_id: input.clinicId, event_id: eventId, event_name: event.eventName };

    const claimTimer = this.metrics.dedupeClaimDuration.startTimer({ side: 'client' });
    let claim: ClaimReply;
    try {
      claim = await this.dedupe.claim({ key, clinicId: input.clinicId, eventId, leaseMs: this.config.DEDUPE_LEASE });
    } catch (err) {
      this.metrics.dedupeClaims.inc({ side: 'client', result: 'error' });
      this.count(input.clinicId, event.eventName, 'unavailable', 'dedupe');
      this.log.error({ ...fields, err: { message: (err as Error).message } }, 'dedupe unavailable; asked the sender to retry');
      throw ApiError.unavailable('the idempotency service is unavailable; retry later', RETRY_AFTER_SECONDS);
    } finally {
      claimTimer();
    }
    this.metrics.dedupeClaims.inc({ side: 'client', result: claim.outcome });

    if (claim.outcome !== 'new') {
      if (claim.outcome === 'duplicate') {
        this.count(input.clinicId, event.eventName, 'duplicate', 'none');
        this.log.info(fields, 'duplicate event acknowledged, not published');
        return { received: true, duplicate: true, event_id: claim.eventId };
      }
      this.count(input.clinicId, event.eventName, 'rejected', 'in_progress');
      throw new ApiError(409, 'in_progress', 'the same event is being stored by another request; retry shortly', undefined, {
        'retry-after': '1',
      });
    }

    const token = claim.token;
    const publishTimer = this.metrics.publishDuration.startTimer();
    try {
      await this.publisher.publish({
        eventId,
        clinicId: input.clinicId,
        eventName: event.eventName,
        receivedAt,
        body: input.rawBody,
      });
      publishTimer({ outcome: 'ok' });
    } catch (err) {
      publishTimer({ outcome: 'error' });
      this.count(input.clinicId, event.eventName, 'unavailable', 'jetstream');
      this.log.error({ ...fields, err: { message: (err as Error).message } }, 'publish to JetStream failed; claim released');
      await this.dedupe.release(key, token).catch(() => undefined);
      throw ApiError.unavailable('the event could not be stored; retry later', RETRY_AFTER_SECONDS);
    }

    // The event is stored: completing the claim can no longer lose it. If completing fails, the lease
    // runs out, a resend is published again under the same Nats-Msg-Id / event id, and fan-out stores it once.
    this.dedupe.complete(key, token).catch((err: unknown) => {
      this.log.warn({ ...fields, err: { message: (err as Error).message } }, 'completing the claim failed; its lease will expire');
    });
    this.count(input.clinicId, event.eventName, 'accepted', 'none');
    this.log.info(fields, 'event accepted');
    return { received: true, event_id: eventId };
  }

  private count(clinicId: string, eventName: string, result: string, reason: string) {
    this.metrics.eventsReceived.inc({
      event_type: eventTypeLabel(eventName, KNOWN_EVENT_NAMES),
      result,
      reason,
      ...this.metrics.clinicLabels(clinicId),
    });
  }
}
