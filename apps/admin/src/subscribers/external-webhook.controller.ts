import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { generateSigningSecret } from '@switchyard/delivery';
import { SubscriberRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { ApiErrors } from '../api-errors.dto';
import { AdminAuthGuard, ClinicKeysAllowed, CurrentPrincipal } from '../auth/admin-auth.guard';
import { findWebhook, requireClinic } from '../auth/clinic-scope';
import { Principal } from '../auth/principal';
import { parse, uuid } from '../validation';
import { SubscriberRegistrationService, toWebhookView } from './subscriber-registration.service';
import {
  CreateSubscriberDto,
  CreatedWebhookDto,
  RotateSecretDto,
  DeletedWebhookDto,
  UpdateSubscriberDto,
  WebhookEnvelopeDto,
  WebhookListDto,
  createSubscriberSchema,
  rotateSecretSchema,
  updateSubscriberSchema,
} from './subscribers.dto';
import { z } from 'zod';

/** `GET /api/external/webhook`'s query: operators pass the clinic. */
const listQuery = z.object({ clinic_id: uuid.optional() });

/**
 * Subscribers through the shapes of Nimbus's own `/api/external/webhook` API, plus what Nimbus makes you
 * e-mail for (listing) and what it lacks (update, secret rotation). A clinic's key reaches only its own.
 */
@ApiTags('webhooks')
@ApiBearerAuth()
@ApiSecurity('clinic-key')
@ApiErrors(400, 401)
@ClinicKeysAllowed()
@UseGuards(AdminAuthGuard)
@Controller('api/external/webhook')
export class ExternalWebhookController {
  constructor(
    private readonly registration: SubscriberRegistrationService,
    private readonly subscribers: SubscriberRepository,
  ) {}

  private scope(principal: Principal, clinicId: string | undefined, what: string): string {
    return requireClinic(principal, clinicId, what);
  }

  private find(principal: Principal, id: string) {
    return findWebhook(this.subscribers, principal, id);
  }

  @Post()
  @ApiOperation({
    summary: 'Register a subscriber (webhook)',
    description: 'Nimbus-compatible. Answers the signing secret once. The URL must be https:// and public (checked again at every connection).',
  })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiErrors(404)
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateSubscriberDto) {
    const input = parse(createSubscriberSchema, body);
    const clinicId = this.scope(principal, input.clinic_id, 'clinic');
    const { subscriber, secret } = await this.registration.create(clinicId, input);
    return { success: true, data: { webhook_id: subscriber.id, secret }, message: 'Webhook created successfully' };
  }

  @Get()
  @ApiOperation({ summary: "List a clinic's subscribers", description: 'Operators pass `clinic_id`; a clinic key lists its own.' })
  @ApiQuery({ name: 'clinic_id', required: false })
  @ApiOkResponse({ type: WebhookListDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, string>) {
    const q = parse(listQuery, query, 'query');
    const clinicId = this.scope(principal, q.clinic_id, 'clinic');
    const items = await this.subscribers.list(clinicId);
    return { success: true, data: items.map(toWebhookView) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a subscriber' })
  @ApiOkResponse({ type: WebhookEnvelopeDto })
  @ApiErrors(404)
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { success: true, data: toWebhookView(await this.find(principal, id)) };
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Update a subscriber', description: 'URL, event filter, format, enabled, flow control, its X-API-Key.' })
  @ApiOkResponse({ type: WebhookEnvelopeDto })
  @ApiErrors(404)
  async update(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() body: UpdateSubscriberDto) {
    const existing = await this.find(principal, id);
    const updated = await this.registration.update(existing, parse(updateSubscriberSchema, body));
    return { success: true, data: toWebhookView(updated), message: 'Webhook updated successfully' };
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a subscriber' })
  @ApiOkResponse({ type: DeletedWebhookDto })
  @ApiErrors(404)
  async remove(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const existing = await this.find(principal, id);
    await this.registration.remove(existing);
    return { success: true, data: { webhook_id: existing.id }, message: 'Webhook deleted successfully' };
  }

  @Post(':id/rotate-secret')
  @ApiOperation({ summary: "Rotate a subscriber's signing secret", description: 'Both secrets sign during the overlap.' })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiErrors(404)
  async rotateSecret(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() body: RotateSecretDto) {
    const existing = await this.find(principal, id);
    const { overlap_seconds } = parse(rotateSecretSchema, body ?? {});
    const secret = generateSigningSecret();
    await this.subscribers.rotateSecret(existing.clinicId, existing.id, secret, overlap_seconds);
    return { success: true, data: { webhook_id: existing.id, secret }, message: `Secret rotated; the previous one also signs for ${overlap_seconds} s` };
  }
}
