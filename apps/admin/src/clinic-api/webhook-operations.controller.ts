import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { TEST_EVENT_NAME, testEventBody as buildTestEventBody } from '@switchyard/contracts';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { DeliveryQueryRepository, DeliveryRepository, SubscriberEntity, SubscriberRepository, newRowId } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { AdminAuthGuard, ClinicKeysAllowed, CurrentPrincipal } from '../auth/admin-auth.guard';
import { findWebhook, requireClinic } from '../auth/clinic-scope';
import { Principal } from '../auth/principal';
import { parse } from '../validation';
import {
  EventTypeListDto,
  ReplayWebhookDto,
  ReplayWebhookResultDto,
  TestEventDto,
  TestEventSentDto,
  WebhookHealthListDto,
  WebhookSecretDto,
  replayBody,
  testEventBody,
  webhookHealthQuery,
} from './clinic-api.dto';
import { EVENT_CATALOG } from './event-catalog';

const disabled = (s: SubscriberEntity) =>
  new ApiError(409, 'webhook_disabled', `the webhook is disabled${s.disabledReason ? ` (${s.disabledReason})` : ''}; enable it first`);

/**
 * What a clinic does with its webhooks beyond registering them (its key or portal session; operators
 * name the clinic): the event type catalog, health, the signing secret, bulk replay and test events.
 */
@ApiTags('clinic webhooks')
@ApiBearerAuth()
@ApiHeader({ name: 'X-API-Key', required: false, description: "A clinic's own key (instead of the admin token)" })
@ClinicKeysAllowed()
@UseGuards(AdminAuthGuard)
@Controller('api/external')
export class WebhookOperationsController {
  constructor(
    private readonly subscribers: SubscriberRepository,
    private readonly deliveries: DeliveryQueryRepository,
    private readonly state: DeliveryRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('event-types')
  @ApiOperation({ summary: 'The event types a webhook can subscribe to: name, description, JSON Schema and an example' })
  @ApiOkResponse({ type: EventTypeListDto })
  eventTypes() {
    return { items: EVENT_CATALOG };
  }

  @Get('webhook-health')
  @ApiOperation({ summary: "Health of the clinic's webhooks: 24 h success rate and attempts, last attempt, waiting / parked / dead" })
  @ApiQuery({ name: 'clinic_id', required: false, description: 'Operators only: the clinic' })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiOkResponse({ type: WebhookHealthListDto })
  async health(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, string>) {
    const q = parse(webhookHealthQuery, query, 'query');
    const clinicId = requireClinic(principal, q.clinic_id, 'clinic');
    if (q.webhook_id && !(await this.subscribers.get(clinicId, q.webhook_id))) throw ApiError.notFound('webhook');
    return { items: await this.deliveries.webhookHealth(clinicId, q.webhook_id) };
  }

  @Get('webhook/:id/secret')
  @ApiOperation({ summary: "Reveal a webhook's current signing secret (the console's 'show secret')" })
  @ApiOkResponse({ type: WebhookSecretDto })
  async secret(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const webhook = await findWebhook(this.subscribers, principal, id);
    const overlap = webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt.getTime() > Date.now() ? webhook.previousSecretExpiresAt : null;
    return { webhook_id: webhook.id, secret: this.subscribers.signingSecretOf(webhook), previous_secret_expires_at: overlap?.toISOString() ?? null };
  }

  /** Replayed deliveries are due at once, announced to fan-out's schedulers, and sent in arrival order. */
  @Post('webhook/:id/replay')
  @HttpCode(200)
  @ApiOperation({ summary: "Replay a webhook's dead letters of a time range, or count them first (dry_run)" })
  @ApiOkResponse({ type: ReplayWebhookResultDto })
  async replay(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() body: ReplayWebhookDto) {
    const webhook = await findWebhook(this.subscribers, principal, id);
    const b = parse(replayBody, body ?? {});
    if (!webhook.enabled) throw disabled(webhook);
    const range = { since: b.since, until: b.until };
    const count = b.dry_run
      ? await this.deliveries.countDeadLettersOf(webhook.clinicId, webhook.id, range)
      : await this.state.replay({ clinicId: webhook.clinicId, subscriberId: webhook.id, ...range }, this.config.DATABASE_SCHEMA);
    return { dry_run: b.dry_run, count };
  }

  /** One delivery to this webhook only (never fanned out), sent and signed by fan-out like any other. */
  @Post('webhook/:id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a test event (marked as a test) to this webhook only' })
  @ApiAcceptedResponse({ type: TestEventSentDto })
  async sendTest(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() body: TestEventDto) {
    const webhook = await findWebhook(this.subscribers, principal, id);
    const b = parse(testEventBody, body ?? {});
    if (!webhook.enabled) throw disabled(webhook);
    const receivedAt = new Date();
    const eventId = newRowId();
    const payload = JSON.stringify(buildTestEventBody({ webhookId: webhook.id, requestedAt: receivedAt, exampleOf: b.event_type }));
    const deliveryId = await this.state.storeTestEvent(
      webhook.clinicId,
      webhook.id,
      { eventId, deliveryId: newRowId(), eventName: TEST_EVENT_NAME, payload, receivedAt },
      this.config.DATABASE_SCHEMA,
    );
    if (!deliveryId) throw disabled(webhook);
    return { event_id: eventId, delivery_id: deliveryId, event_name: TEST_EVENT_NAME };
  }
}
