import { monitorEventLoopDelay } from 'node:perf_hooks';
import { nimbusFixtures } from '../fixtures/nimbus';
import { TestStack } from '../support/stack';
import { head, rawRequest } from './support/raw-http';

/**
 * Scenario 2: hostile or broken input at the ingress. Each case gets a clear 4xx with a JSON error body,
 * nothing is published, and the process stays healthy and responsive throughout.
 */
describe('reliability: bad input at the ingress', () => {
  let stack: TestStack;
  let clinic: { id: string; apiKey: string };
  let port: number;
  const loop = monitorEventLoopDelay({ resolution: 10 });

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { INGRESS_REQUEST_TIMEOUT: '2s' }, ['dedupe', 'ingress', 'admin']);
    clinic = await stack.createClinic('Bad input clinic');
    port = Number(new URL(stack.ingressUrl).port);
    loop.enable();
  });

  afterAll(async () => {
    loop.disable();
    await stack?.stop();
  });

  const valid = JSON.stringify(nimbusFixtures['shipment:created']);
  const json = 'Content-Type: application/json';
  const deep = (n: number) => `{"event_name":"deep:nest","event_data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
  const deepArray = (n: number) => `{"event_name":"deep:nest","event_data":{"a":${'['.repeat(n)}${']'.repeat(n)}}}`;

  /** What a case got, in a form that compares cleanly: one line per case in a failure diff. */
  function verdict(a: { status: number; headers: Record<string, string>; body: string; noAnswer: boolean }, status: number | number[]) {
    const statuses = Array.isArray(status) ? status : [status];
    let error: { code?: unknown; message?: unknown } | undefined;
    try {
      error = JSON.parse(a.body).error;
    } catch {
      error = undefined;
    }
    const jsonError = /^application\/json/.test(a.headers['content-type'] ?? '') && typeof error?.code === 'string' && typeof error?.message === 'string';
    return statuses.includes(a.status) && jsonError ? 'ok' : `got ${a.noAnswer ? 'no answer' : a.status} ${a.body.slice(0, 120)}`;
  }

  it('answers each malformed request with a clear JSON 4xx and publishes nothing', async () => {
    const before = await stack.storedMessages();
    const big = Buffer.alloc(300 * 1024, 'x');
    const cases: Array<[string, Array<string | Buffer>, number | number[], { gapMs?: number; timeoutMs?: number }?]> = [
      ['malformed JSON', [head(clinic.apiKey, [json, 'Content-Length: 15']), '{"event_name": '], 400],
      ['empty JSON body', [head(clinic.apiKey, [json, 'Content-Length: 0'])], 400],
      ['JSON null', [head(clinic.apiKey, [json, 'Content-Length: 4']), 'null'], 400],
      ['text/plain', [head(clinic.apiKey, ['Content-Type: text/plain', `Content-Length: ${valid.length}`]), valid], 415],
      ['no content type', [head(clinic.apiKey, [`Content-Length: ${valid.length}`]), valid], 415],
      ['multipart', [head(clinic.apiKey, ['Content-Type: multipart/form-data; boundary=x', 'Content-Length: 4']), '--x-'], 415],
      ['over the limit with Content-Length', [head(clinic.apiKey, [json, `Content-Length: ${big.length}`]), big], 413],
      [
        'over the limit, chunked',
        [head(clinic.apiKey, [json, 'Transfer-Encoding: chunked']), ...Array.from({ length: 5 }, () => `10000\r\n${'x'.repeat(0x10000)}\r\n`), '0\r\n\r\n'],
        413,
      ],
      // A Content-Length shorter than the body: the body is cut, so it is not valid JSON.
      ['Content-Length shorter than the body', [head(clinic.apiKey, [json, 'Content-Length: 10']), valid], 400],
      // A Content-Length longer than the body that never comes: the request must time out, not hang.
      ['Content-Length longer than the body', [head(clinic.apiKey, [json, 'Content-Length: 100000']), valid], 408, { timeoutMs: 8_000 }],
      ['both Content-Length and chunked', [head(clinic.apiKey, [json, 'Content-Length: 4', 'Transfer-Encoding: chunked']), '4\r\nnull\r\n0\r\n\r\n'], 400],
      ['objects nested 10,000 deep', [head(clinic.apiKey, [json, `Content-Length: ${deep(10_000).length}`]), deep(10_000)], 400],
      ['arrays nested 10,000 deep', [head(clinic.apiKey, [json, `Content-Length: ${deepArray(10_000).length}`]), deepArray(10_000)], 400],
      // As deep as fits in the body limit: the parser itself must not overflow the stack.
      ['objects nested 40,000 deep', [head(clinic.apiKey, [json, `Content-Length: ${deep(40_000).length}`]), deep(40_000)], 400],
      ['arrays nested 120,000 deep', [head(clinic.apiKey, [json, `Content-Length: ${deepArray(120_000).length}`]), deepArray(120_000)], 400],
      [
        'invalid UTF-8',
        (() => {
          const b = Buffer.concat([Buffer.from('{"event_name":"x:y","event_data":{"s":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]);
          return [head(clinic.apiKey, [json, `Content-Length: ${b.length}`]), b];
        })(),
        400,
      ],
      ['__proto__ key', [head(clinic.apiKey, [json, 'Content-Length: 59']), '{"event_name":"x:y","event_data":{"__proto__":{"a":true}}}'.padEnd(59)], 400],
      [
        'constructor.prototype key',
        [head(clinic.apiKey, [json, 'Content-Length: 73']), '{"event_name":"x:y","event_data":{"constructor":{"prototype":{"a":1}}}}'.padEnd(73)],
        400,
      ],
      ['a 64 KiB header', [head(clinic.apiKey, [json, `X-Junk: ${'a'.repeat(64 * 1024)}`, `Content-Length: ${valid.length}`]), valid], 431],
      ['10,000 headers', [head(clinic.apiKey, [json, ...Array.from({ length: 10_000 }, (_, i) => `X-H${i}: 1`), `Content-Length: ${valid.length}`]), valid], 431],
      ['no X-API-Key', [head('', [json, `Content-Length: ${valid.length}`]).replace('X-API-Key: \r\n', ''), valid], 401],
      ['duplicated X-API-Key', [head(clinic.apiKey, [json, `X-API-Key: ${clinic.apiKey}`, `Content-Length: ${valid.length}`]), valid], 401],
      ['malformed X-API-Key', [head('swy_\u00e9\u00e9;drop table', [json, `Content-Length: ${valid.length}`]), valid], 401],
      ['a 12 KiB X-API-Key', [head('swy_' + 'A'.repeat(12 * 1024), [json, `Content-Length: ${valid.length}`]), valid], 401],
    ];
    const got: Record<string, string> = {};
    for (const [what, parts, status, options] of cases) {
      const answer = await rawRequest(port, parts, options);
      // Still healthy, and the public port still answers (a JSON POST without a key: 401).
      const health = await fetch(`${stack.ingressOpsUrl}/healthz`);
      const publicPort = await fetch(`${stack.ingressUrl}/webhooks/nimbus`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      got[what] =
        health.status === 200 && publicPort.status === 401
          ? verdict(answer, status)
          : `unhealthy afterwards (ops ${health.status}, public ${publicPort.status})`;
    }
    expect(got).toEqual(Object.fromEntries(cases.map(([what]) => [what, 'ok'])));
    expect(await stack.storedMessages()).toBe(before);
  });

  it('still accepts a valid event afterwards, and the event loop stayed responsive', async () => {
    const res = await stack.send(clinic.apiKey, nimbusFixtures['shipment:created']);
    expect(res.status).toBe(200);
    const maxMs = loop.max / 1e6;
    const p99Ms = loop.percentile(99) / 1e6;
    process.stdout.write(`bad input: event loop delay p99 ${p99Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms\n`);
    // Generous bounds: the CI machine has two cores shared with other suites.
    expect(p99Ms).toBeLessThan(200);
    expect(maxMs).toBeLessThan(1_000);
  });
});
