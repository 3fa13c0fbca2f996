import { JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';
import { isNotFound, isTransientJetStreamError } from './jetstream-errors';
import { redactNatsUrl } from './nats-connection';

const apiError = (code: number, err_code: number, description: string) => new JetStreamApiError({ code, err_code, description });

describe('isTransientJetStreamError', () => {
  it.each([
    ['a request timeout', new errors.TimeoutError()],
    ['no responders', new errors.NoRespondersError('$JS.API.INFO')],
    ['no responders as the JetStream client reports it', new Error('jetstream is not enabled')],
    ['no meta leader', apiError(503, 10008, 'JetStream system temporarily unavailable')],
    ['servers still joining', apiError(500, 10005, 'insufficient resources: no suitable peers for placement')],
    ['a stream without a leader', apiError(500, 10118, 'stream is offline')],
  ])('retries %s', (_what, err) => {
    expect(isTransientJetStreamError(err)).toBe(true);
  });

  it.each([
    ['a bad stream config', apiError(400, 10052, 'replicas > 1 not supported in non-clustered mode')],
    ['a missing stream', apiError(404, 10059, 'stream not found')],
    ['a permission error', new errors.PermissionViolationError('no', 'publish', '$JS.API.>')],
    ['a closed connection', new errors.ClosedConnectionError()],
  ])('does not retry %s', (_what, err) => {
    expect(isTransientJetStreamError(err)).toBe(false);
  });
});

describe('isNotFound', () => {
  it('knows a missing stream or consumer from anything else', () => {
    expect(isNotFound(apiError(404, 10059, 'stream not found'))).toBe(true);
    expect(isNotFound(apiError(404, 10014, 'consumer not found'))).toBe(true);
    expect(isNotFound(apiError(503, 10008, 'JetStream system temporarily unavailable'))).toBe(false);
  });
});

describe('redactNatsUrl', () => {
  it('keeps servers and users, never a password or a token', () => {
    expect(redactNatsUrl('nats://a:4222,nats://b:4222')).toBe('nats://a:4222,nats://b:4222');
    expect(redactNatsUrl('nats://app:s3cret@a:4222,nats://app:s3cret@b:4222')).toBe('nats://app:***@a:4222,nats://app:***@b:4222');
    expect(redactNatsUrl('nats://t0ken@a:4222')).toBe('nats://***@a:4222');
  });
});
