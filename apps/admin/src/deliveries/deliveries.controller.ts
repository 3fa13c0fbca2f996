import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { DELIVERY_STATUSES, DeliveryQueryRepository, DeliveryRepository, InvalidCursorError } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { ApiErrors } from '../api-errors.dto';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { parse, pathId } from '../validation';
import { DeliveryPageDto, DeliveryWithAttemptsDto, ReplayDto, ReplayedDto, listQuery, replayBody } from './deliveries.dto';

/** Operator routes: deliveries with their attempts, dead letters and replay. */
@ApiTags('deliveries')
@ApiBearerAuth()
@ApiErrors(400, 401)
@UseGuards(AdminAuthGuard)
@Controller('admin')
export class DeliveriesController {
  constructor(
    private readonly deliveries: DeliveryQueryRepository,
    private readonly state: DeliveryRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private async page(query: Record<string, string>, forceStatus?: 'dead') {
    const q = parse(listQuery, query, 'query');
    try {
      return await this.deliveries.list({
        clinicId: q.clinic_id ?? null,
        subscriberId: q.webhook_id,
        status: forceStatus ?? q.status,
        limit: q.limit,
        cursor: q.cursor,
      });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw ApiError.badRequest('cursor: is not valid');
      throw err;
    }
  }

  @Get('deliveries')
  @ApiOperation({ summary: 'List deliveries', description: 'By clinic, subscriber and status, newest first, in cursor pages.' })
  @ApiQuery({ name: 'clinic_id', required: false })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiQuery({ name: 'status', required: false, enum: DELIVERY_STATUSES })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: DeliveryPageDto })
  list(@Query() query: Record<string, string>) {
    return this.page(query);
  }

  @Get('deliveries/:id')
  @ApiOperation({ summary: 'Get a delivery with its attempts' })
  @ApiOkResponse({ type: DeliveryWithAttemptsDto })
  @ApiErrors(404)
  async get(@Param('id') id: string) {
    const delivery = await this.deliveries.get(null, pathId(id, 'delivery'));
    if (!delivery) throw ApiError.notFound('delivery');
    return delivery;
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'List dead letters', description: 'Deliveries given up on: their last scheduled attempt failed, their payload cannot be rendered in the subscriber\'s format, or their subscriber\'s signing secret cannot be read. Replay sends them again.' })
  @ApiQuery({ name: 'clinic_id', required: false })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: DeliveryPageDto })
  deadLetters(@Query() query: Record<string, string>) {
    return this.page(query, 'dead');
  }

  /** Replayed deliveries are due at once, announced to fan-out's schedulers, and sent in arrival order. */
  @Post('dead-letters/replay')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replay dead letters', description: 'By ids, or by clinic / subscriber and time range; due at once, same webhook-id.' })
  @ApiOkResponse({ type: ReplayedDto })
  async replay(@Body() body: ReplayDto) {
    const b = parse(replayBody, body);
    const queued = await this.state.replay(
      {
        clinicId: b.clinic_id ?? null,
        ids: b.ids,
        subscriberId: b.webhook_id,
        since: b.since ? new Date(b.since) : undefined,
        until: b.until ? new Date(b.until) : undefined,
      },
      this.config.DATABASE_SCHEMA,
    );
    return { queued };
  }
}
