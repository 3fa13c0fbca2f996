import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { generateSigningSecret } from '@switchyard/delivery';
import { ClinicRepository, DeliveryRepository, SubscriberEntity, SubscriberPatch, SubscriberRepository } from '@switchyard/persistence';
import { UrlPolicy, checkSubscriberHostResolves, validateSubscriberUrl } from '@switchyard/url-safety';
import { ceilingProblems } from '@switchyard/ceilings';
import { ApiError } from '@switchyard/web';
import { z } from 'zod';
import { ClinicCeilingsService } from '../limits/clinic-ceilings.service';
import { createSubscriberSchema, updateSubscriberSchema } from './subscribers.dto';

/** A value above the clinic's ceiling (422): the clinic may not ask for it; an operator may raise the ceiling. */
function overCeiling(problems: string[]): ApiError {
  return new ApiError(422, 'clinic_limit_exceeded', `${problems.join('; ')} (an operator can raise it)`, problems);
}

/** The clinic already has a live webhook with this URL (409): one URL is registered once per clinic. */
function duplicateUrl(existingId: string): ApiError {
  return new ApiError(409, 'webhook_exists', `webhook_url: this clinic already has webhook ${existingId} with this URL`, { webhook_id: existingId });
}

export function toWebhookView(s: SubscriberEntity) {
  return {
    webhook_id: s.id,
    clinic_id: s.clinicId,
    webhook_url: s.url,
    event_types: s.eventTypes,
    format: s.format,
    enabled: s.enabled,
    disabled_reason: s.disabledReason,
    api_key_set: s.apiKey !== null,
    timeout_ms: s.timeoutMs,
    ordered: s.ordered,
    max_in_flight: s.maxInFlight,
    rate_limit_per_second: s.rateLimitPerSecond,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

/** Registers, changes and removes subscribers; every URL passes the SSRF policy first. */
@Injectable()
export class SubscriberRegistrationService {
  private readonly policy: UrlPolicy;
  private readonly schema: string;

  constructor(
    private readonly subscribers: SubscriberRepository,
    private readonly clinics: ClinicRepository,
    private readonly deliveries: DeliveryRepository,
    private readonly ceilings: ClinicCeilingsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.schema = config.DATABASE_SCHEMA;
    this.policy = {
      allowInsecure: config.ALLOW_INSECURE_SUBSCRIBER_URLS,
      allowedCidrs: config.SUBSCRIBER_ALLOWED_CIDRS.split(',').map((s) => s.trim()).filter(Boolean),
    };
  }

  private async checkUrl(raw: string): Promise<string> {
    const verdict = validateSubscriberUrl(raw, this.policy);
    if (!verdict.ok) throw new ApiError(400, 'invalid_webhook_url', `webhook_url: ${verdict.reason}`);
    const resolved = await checkSubscriberHostResolves(verdict.url, this.policy);
    if (!resolved.ok) throw new ApiError(400, 'invalid_webhook_url', `webhook_url: ${resolved.reason}`);
    return verdict.url.toString();
  }

  /**
   * Registers a subscriber within the clinic's ceilings: its max_in_flight and timeout_ms (422 above), the
   * number of live subscribers (422 at the ceiling), and one subscriber per URL (409). The ceilings are read
   * under the clinic's lock, in the transaction that inserts (createWithinLimit).
   */
  async create(clinicId: string, input: z.output<typeof createSubscriberSchema>) {
    if (!(await this.clinics.get(clinicId))) throw ApiError.notFound('clinic');
    const url = await this.checkUrl(input.webhook_url);
    const secret = generateSigningSecret();
    const created = await this.subscribers.createWithinLimit(clinicId, (overrides) => {
      const ceilings = this.ceilings.ceilingsFrom(overrides);
      const problems = ceilingProblems(input, ceilings);
      if (problems.length > 0) return { refused: 'ceiling', problems };
      const unset = this.ceilings.unsetValues(ceilings);
      const subscriber = {
        id: randomUUID(),
        clinicId,
        url,
        eventTypes: input.event_types ?? ['*'],
        format: (input.format ?? 'cloudevents') as SubscriberEntity['format'],
        secret,
        apiKey: input.api_key ?? null,
        timeoutMs: input.timeout_ms ?? unset.timeout_ms,
        ordered: input.ordered ?? false,
        maxInFlight: input.max_in_flight ?? unset.max_in_flight,
        rateLimitPerSecond: input.rate_limit_per_second ?? null,
      };
      return { subscriber, maxSubscribers: ceilings.maxSubscribers };
    });
    if ('refused' in created) {
      if (created.refused === 'ceiling') throw overCeiling(created.problems);
      if (created.refused === 'duplicate_url') throw duplicateUrl(created.existingId);
      if (created.refused === 'no_clinic') throw ApiError.notFound('clinic');
      throw overCeiling([`this clinic already has ${created.limit} webhooks, its ceiling`]);
    }
    return { subscriber: created, secret };
  }

  /**
   * Applies a PATCH to a subscriber the caller has already found (and scoped to its clinic). The URL's
   * duplicates and the clinic's ceilings are checked under the clinic's lock, in the transaction that writes
   * (updateWithinCeilings).
   */
  async update(existing: SubscriberEntity, input: z.output<typeof updateSubscriberSchema>) {
    const { clinicId, id } = existing;
    const patch: SubscriberPatch = {};
    if (input.webhook_url !== undefined) patch.url = await this.checkUrl(input.webhook_url);
    if (input.event_types !== undefined) patch.eventTypes = input.event_types;
    if (input.format !== undefined) patch.format = input.format as SubscriberEntity['format'];
    if (input.api_key !== undefined) patch.apiKey = input.api_key;
    if (input.ordered !== undefined) patch.ordered = input.ordered;
    if (input.rate_limit_per_second !== undefined) patch.rateLimitPerSecond = input.rate_limit_per_second;
    const written = await this.subscribers.updateWithinCeilings(clinicId, id, (overrides) => {
      if (input.max_in_flight === undefined && input.timeout_ms === undefined) return patch;
      const ceilings = this.ceilings.ceilingsFrom(overrides);
      const problems = ceilingProblems(input, ceilings);
      if (problems.length > 0) return { refused: 'ceiling', problems };
      const unset = this.ceilings.unsetValues(ceilings);
      const bounded: SubscriberPatch = { ...patch };
      if (input.max_in_flight !== undefined) bounded.maxInFlight = input.max_in_flight ?? unset.max_in_flight;
      if (input.timeout_ms !== undefined) bounded.timeoutMs = input.timeout_ms ?? unset.timeout_ms;
      return bounded;
    });
    if (written && 'refused' in written) {
      if (written.refused === 'duplicate_url') throw duplicateUrl(written.existingId);
      throw overCeiling(written.problems);
    }
    let updated = written;
    // Enabling or disabling also moves the subscriber's waiting deliveries: one statement of the delivery owner.
    if (updated && input.enabled === false) await this.deliveries.disableSubscriber(clinicId, id, 'disabled by an administrator');
    // Whatever `existing` said: a 410 may have disabled it since it was read, and enabling twice changes nothing.
    if (updated && input.enabled === true) await this.deliveries.enableSubscriber(clinicId, id, this.schema);
    if (updated && input.enabled !== undefined) updated = await this.subscribers.get(clinicId, id);
    if (!updated) throw ApiError.notFound('webhook'); // deleted since the caller found it
    return updated;
  }

  /** Deletes a subscriber the caller has already found; its waiting deliveries are cancelled. */
  async remove(existing: SubscriberEntity): Promise<void> {
    if (!(await this.deliveries.deleteSubscriber(existing.clinicId, existing.id))) throw ApiError.notFound('webhook');
  }
}
