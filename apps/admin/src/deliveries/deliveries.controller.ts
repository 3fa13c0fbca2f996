import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { DELIVERY_STATUSES, DeliveryQueryRepository, InvalidCursorError } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { parse, pathId, uuid } from '../validation';

const listQuery = z.object({
  clinic_id: uuid.optional(),
  webhook_id: uuid.optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

const replayBody = z
  .object({
    ids: z.array(uuid).min(1).max(10_000).optional(),
    clinic_id: uuid.optional(),
    webhook_id: uuid.optional(),
    since: z.string().datetime({ offset: true }).optional(),
    until: z.string().datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((b) => b.ids || b.clinic_id || b.webhook_id || b.since || b.until, 'give ids or at least one filter (clinic_id, webhook_id, since, until)');

class ReplayDto {
  @ApiPropertyOptional({ type: [String] }) ids?: string[];
  @ApiPropertyOptional() clinic_id?: string;
  @ApiPropertyOptional() webhook_id?: string;
  @ApiPropertyOptional({ format: 'date-time' }) since?: string;
  @ApiPropertyOptional({ format: 'date-time' }) until?: string;
}
class ReplayedDto {
  @ApiProperty() queued: number;
}

/** Operator routes: deliveries with their attempts, dead letters and replay. */
@ApiTags('deliveries')
@ApiBearerAuth()
@UseGuards(AdminAuthGuard)
@Controller('admin')
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveryQueryRepository) {}

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
  @ApiQuery({ name: 'clinic_id', required: false })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiQuery({ name: 'status', required: false, enum: DELIVERY_STATUSES })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false })
  list(@Query() query: Record<string, string>) {
    return this.page(query);
  }

  @Get('deliveries/:id')
  async get(@Param('id') id: string) {
    const delivery = await this.deliveries.get(null, pathId(id, 'delivery'));
    if (!delivery) throw ApiError.notFound('delivery');
    return delivery;
  }

  @Get('dead-letters')
  @ApiQuery({ name: 'clinic_id', required: false })
  @ApiQuery({ name: 'webhook_id', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false })
  deadLetters(@Query() query: Record<string, string>) {
    return this.page(query, 'dead');
  }

  /** Replayed deliveries are due at once; fan-out's scheduler picks them up within its poll interval. */
  @Post('dead-letters/replay')
  @HttpCode(200)
  @ApiOkResponse({ type: ReplayedDto })
  async replay(@Body() body: ReplayDto) {
    const b = parse(replayBody, body);
    const queued = await this.deliveries.replay({
      clinicId: b.clinic_id ?? null,
      ids: b.ids,
      subscriberId: b.webhook_id,
      since: b.since ? new Date(b.since) : undefined,
      until: b.until ? new Date(b.until) : undefined,
    });
    return { queued };
  }
}
