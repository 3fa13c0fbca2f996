import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { RawBodyRequest } from '@nestjs/common';
import { isUtf8 } from 'node:buffer';
import type { FastifyRequest } from 'fastify';
import { findDuplicateKey } from '@switchyard/contracts';
import { Metrics } from '@switchyard/observability';
import { ClinicAuthenticator } from '@switchyard/tenancy';
import { ApiError } from '@switchyard/web';
import { RETRY_AFTER_SECONDS, ReceiveNimbusEventUseCase, ReceiveResult } from './receive-nimbus-event.usecase';

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
    let clinic: Awaited<ReturnType<ClinicAuthenticator['authenticate']>>;
    try {
      clinic = await this.authenticator.authenticate(req.headers['x-api-key']);
    } catch {
      // The key store (Postgres) is unreachable: not the sender's fault, and it must retry (not a 401 or a 500).
      // Counted with the other 503s (dedupe, jetstream), where the runbook looks for their cause.
      this.metrics.eventsReceived.inc({ event_type: 'other', result: 'unavailable', reason: 'postgres' });
      throw ApiError.unavailable('cannot verify the API key right now; retry later', RETRY_AFTER_SECONDS);
    }
    if (!clinic) throw this.rejected('unauthorized', ApiError.unauthorized('missing or invalid X-API-Key'));
    if (!req.rawBody || req.rawBody.length === 0) {
      throw this.rejected('empty_body', new ApiError(400, 'invalid_json', 'body is empty; expected a JSON object'));
    }
    // JSON is UTF-8 (RFC 8259); invalid bytes would otherwise be decoded to U+FFFD here and forwarded raw.
    if (!isUtf8(req.rawBody)) throw this.rejected('invalid_utf8', new ApiError(400, 'invalid_json', 'body is not valid UTF-8'));
    // JSON.parse kept the last of two equal keys; a receiver of the forwarded bytes may keep the first.
    const duplicate = findDuplicateKey(req.rawBody, req.body);
    if (duplicate) {
      throw this.rejected(
        'duplicate_key',
        new ApiError(400, 'duplicate_key', `body has the key "${duplicate.key.slice(0, 100)}" twice (in ${duplicate.path.slice(0, 200)}); each key may appear once per object`),
      );
    }
    return this.receive.execute({ clinicId: clinic.clinicId, body: req.body, rawBody: req.rawBody });
  }

  /** Counts a request refused before its event could be read (the event type is not known yet). */
  private rejected(reason: string, error: ApiError): ApiError {
    this.metrics.eventsReceived.inc({ event_type: 'other', result: 'rejected', reason });
    return error;
  }
}
