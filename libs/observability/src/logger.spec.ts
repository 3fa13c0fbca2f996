import { Writable } from 'node:stream';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { createLogger } from './logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('never writes an API key, secret, token or authorization value', () => {
    const { lines, stream } = capture();
    const log = createLogger('test', 'info', stream);
    const values = {
      apiKey: 'swy_SECRETapikeyVALUE0000000000000000000001',
      clinicKey: 'swy_SECRETapikeyVALUE0000000000000000000002',
      headerKey: 'swy_SECRETapikeyVALUE0000000000000000000003',
      nestedHeaderKey: 'swy_SECRETapikeyVALUE0000000000000000000004',
      secret: 'whsec_SECRETsigningVALUE1',
      previous: 'whsec_SECRETsigningVALUE2',
      bearer: 'Bearer SECRETadminTOKEN',
      token: 'SECRETplainTOKEN',
    };
    log.info({ api_key: values.apiKey }, 'top level');
    log.info({ clinic: { apiKey: values.clinicKey } }, 'one level down');
    log.info({ headers: { 'x-api-key': values.headerKey, authorization: values.bearer, 'content-type': 'application/json' } }, 'headers');
    log.info({ req: { method: 'POST', headers: { 'x-api-key': values.nestedHeaderKey } } }, 'request headers');
    log.info({ job: { subscriber: { secrets: [values.secret, values.previous], apiKey: values.clinicKey } } }, 'two levels down');
    log.info({ subscriber: { secret: values.secret, previous_secret: values.previous }, token: values.token }, 'subscriber');
    log.info({ 'x-api-key': values.headerKey }, 'bare header name');
    log.flush();

    const output = lines.join('\n');
    expect(lines).toHaveLength(7);
    for (const [name, value] of Object.entries(values)) {
      expect({ name, leaked: output.includes(value) }).toEqual({ name, leaked: false });
    }
    // What is not secret is kept, and the redacted places say so.
    const headers = JSON.parse(lines[2]!).headers;
    expect(headers).toEqual({ 'x-api-key': '[redacted]', authorization: '[redacted]', 'content-type': 'application/json' });
    expect(JSON.parse(lines[3]!).req.method).toBe('POST');
  });

  it('writes a logged error as its type, message, code and stack: not the values a database error carries', () => {
    const { lines, stream } = capture();
    const log = createLogger('test', 'info', stream);
    // What pg and TypeORM put on a failed statement's error: the row (detail) and the statement's values.
    const failed = Object.assign(new Error('duplicate key value violates unique constraint "deliveries_pkey"'), {
      code: '23505',
      detail: 'Key (id)=(4bd5c0e4) already exists. Failing row contains (patient-Jane-Doe, whsec_SECRETsigningVALUE3).',
      parameters: ['patient-Jane-Doe', 'whsec_SECRETsigningVALUE3'],
      query: 'INSERT INTO deliveries …',
    });
    log.error({ err: failed, delivery_id: 'd1' }, 'recording an attempt failed');
    log.flush();
    const line = JSON.parse(lines[0]!);
    expect(lines[0]).not.toContain('patient-Jane-Doe');
    expect(lines[0]).not.toContain('whsec_SECRETsigningVALUE3');
    expect(line.err).toEqual({ type: 'Error', message: failed.message, code: '23505', stack: expect.stringContaining('logger.spec') });
    expect(line.delivery_id).toBe('d1');
  });

  it('adds the trace and span ids of the active span, and the app name', () => {
    const { lines, stream } = capture();
    const log = createLogger('ingress', 'info', stream);
    const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
    // Without a context manager the active span is set explicitly through the span API.
    const span = trace.getSpan(ctx)!;
    const spy = jest.spyOn(trace, 'getActiveSpan').mockReturnValue(span);
    try {
      log.info({ clinic_id: 'c1', event_id: 'e1' }, 'event accepted');
    } finally {
      spy.mockRestore();
    }
    log.flush();
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      app: 'ingress',
      level: 'info',
      clinic_id: 'c1',
      event_id: 'e1',
      trace_id: spanContext.traceId,
      span_id: spanContext.spanId,
      msg: 'event accepted',
    });
  });
});
