import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { RawBodyRequest } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Metrics } from '@switchyard/observability';
import { ClinicAuthenticator } from '@switchyard/tenancy';
import { ApiError } from '@switchyard/web';
import { ReceiveNimbusEventUseCase, ReceiveResult } from './receive-nimbus-event.usecase';

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;

/** `POST /webhooks/nimbus`: the URL a clinic gives Nimbus. */
@Controller('webhooks')
export class NimbusWebhookController {
  constructor(
    private readonly authenticator: ClinicAuthenticator,
    private readonly receive: ReceiveNimbusEventUseCase,
    private readonly metrics: Metrics,
  ) {}

  @Post('nimbus')
  @HttpCode(200)
  async nimbus(@Req() req: RawBodyRequest<FastifyRequest>): Promise<ReceiveResult> {
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) throw this.rejected('unsupported_media_type', ApiError.unsupportedMediaType());
    const clinic = await this.authenticator.authenticate(req.headers['x-api-key']);
    if (!clinic) throw this.rejected('unauthorized', ApiError.unauthorized('missing or invalid X-API-Key'));
    if (!req.rawBody || req.rawBody.length === 0) {
      throw this.rejected('empty_body', new ApiError(400, 'invalid_json', 'body is empty; expected a JSON object'));
    }
    return this.receive.execute({ clinicId: clinic.clinicId, body: req.body, rawBody: req.rawBody });
  }

  /** Counts a request refused before its event could be read (the event type is not known yet). */
  private rejected(reason: string, error: ApiError): ApiError {
    this.metrics.eventsReceived.inc({ event_type: 'other', result: 'rejected', reason });
    return error;
  }
}
