import { Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { DELIVERY_STATUSES, DeliveryQueryRepository, DeliveryRepository, InvalidCursorError } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { AdminAuthGuard, ClinicKeysAllowed, CurrentPrincipal } from '../auth/admin-auth.guard';
import { requireClinic } from '../auth/clinic-scope';
import { Principal } from '../auth/principal';
import { DeliveryWithAttemptsDto } from '../deliveries/deliveries.dto';
import { parse, pathId } from '../validation';
import { ClinicDeliveryPageDto, DeliveryStatsDto, ResentDto, clinicDeliveriesQuery, deliveryStatsQuery } from './clinic-api.dto';
import { DeliveryStatsService } from './delivery-stats.service';

/**
 * A clinic's deliveries (its key or portal session; operators name the clinic): the log with filters and
 * cursor pages, one delivery with its attempts, resend, and the counts behind the console's chart.
 */
@ApiTags('clinic deliveries')
@ApiBearerAuth()
@ApiHeader({ name: 'X-API-Key', required: false, description: "A clinic's own key (instead of the admin token)" })
@ClinicKeysAllowed()
@UseGuards(AdminAuthGuard)
@Controller('api/external')
export class ClinicDeliveriesController {
  constructor(
    private readonly deliveries: DeliveryQueryRepository,
    private readonly state: DeliveryRepository,
    private readonly stats: DeliveryStatsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** One delivery with its attempts, within what the principal may see; else 404. */
  private async find(principal: Principal, id: string) {
    const delivery = await this.deliveries.get(principal.kind === 'clinic' ? principal.clinicId : null, pathId(id, 'delivery'));
    if (!delivery) throw ApiError.notFound('delivery');
    return delivery;
  }

  @Get('deliveries')
  @ApiOperation({ summary: "List the clinic's deliveries, newest first, filtered by webhook, status, event type and time" })
  @ApiQuery({ name: 'clinic_id', required: false, description: 'Operators only: the clinic' })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiQuery({ name: 'status', required: false, enum: DELIVERY_STATUSES })
  @ApiQuery({ name: 'event_type', required: false, example: 'shipment:created' })
  @ApiQuery({ name: 'since', required: false, description: 'Created at or after (ISO-8601)' })
  @ApiQuery({ name: 'until', required: false, description: 'Created before (ISO-8601)' })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: ClinicDeliveryPageDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, string>) {
    const q = parse(clinicDeliveriesQuery, query, 'query');
    const clinicId = requireClinic(principal, q.clinic_id, 'clinic');
    try {
      return await this.deliveries.list({
        clinicId,
        subscriberId: q.webhook_id,
        status: q.status,
        eventName: q.event_type,
        since: q.since,
        until: q.until,
        limit: q.limit,
        cursor: q.cursor,
      });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw ApiError.badRequest('cursor: is not valid');
      throw err;
    }
  }

  @Get('deliveries/:id')
  @ApiOperation({ summary: 'One delivery with its attempts (time, outcome, HTTP status, duration, first bytes of the answer)' })
  @ApiOkResponse({ type: DeliveryWithAttemptsDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.find(principal, id);
  }

  /** Due at once and announced to fan-out's schedulers; sent with the same webhook-id. */
  @Post('deliveries/:id/resend')
  @HttpCode(202)
  @ApiOperation({ summary: 'Resend one delivered or dead-lettered delivery now, with a fresh attempt budget' })
  @ApiAcceptedResponse({ type: ResentDto })
  async resend(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const delivery = await this.find(principal, id);
    if (delivery.status !== 'succeeded' && delivery.status !== 'dead') {
      throw new ApiError(409, 'not_finished', `the delivery is ${delivery.status}; only a delivered or dead-lettered one can be resent`);
    }
    if (!(await this.state.resend(delivery.clinic_id, delivery.id, this.config.DATABASE_SCHEMA))) {
      throw new ApiError(409, 'webhook_disabled', 'the webhook is disabled or deleted (or the delivery changed meanwhile); enable it first');
    }
    return { delivery_id: delivery.id, status: 'pending' };
  }

  @Get('delivery-stats')
  @ApiOperation({ summary: "The clinic's deliveries per time bucket by outcome (for the console's chart)" })
  @ApiQuery({ name: 'clinic_id', required: false, description: 'Operators only: the clinic' })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiQuery({ name: 'hours', required: false, description: 'How far back (default 24, at most 168)' })
  @ApiQuery({ name: 'bucket_minutes', required: false, description: 'Bucket width (default 60)' })
  @ApiOkResponse({ type: DeliveryStatsDto })
  async deliveryStats(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, string>) {
    const q = parse(deliveryStatsQuery, query, 'query');
    return this.stats.timeline(requireClinic(principal, q.clinic_id, 'clinic'), q);
  }
}
