/**
 * One event, one trace: ingress HTTP server span → gRPC claim (client and server) → JetStream publish
 * (PRODUCER) → fan-out consume (CONSUMER) → delivery attempt → outbound HTTP (undici CLIENT), and the
 * receiver sees a `traceparent` of that trace.
 *
 * Tracing must be set up before http, gRPC and undici are loaded, so this file starts the SDK first and
 * loads everything else with require() afterwards (imports would be hoisted above it).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Stack, Receiver } from './support/stack';

const { NodeSDK, tracing } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
const { SpanKind } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
const { switchyardInstrumentations } = require('@switchyard/observability/tracing') as typeof import('../../libs/observability/src/tracing');

const exporter = new tracing.InMemorySpanExporter();
const instrumentations = switchyardInstrumentations();
const sdk = new NodeSDK({
  serviceName: 'switchyard-trace-chain-test',
  spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
  instrumentations,
  // Nothing from the environment: no OTLP exporter, no metrics or logs pipelines.
  traceExporter: undefined,
  metricReaders: [],
});
sdk.start();

// Jest loads modules through its own registry, which the require hook of the instrumentations never
// sees. Apply each instrumentation's patch by hand to the very module objects the apps will get from jest
// (http and https for the HTTP server spans, @grpc/grpc-js for the claim; undici is observed through
// diagnostics_channel and needs no patch). In production `startTracing` runs first and the hook does this.
for (const instrumentation of instrumentations) {
  for (const def of instrumentation.getModuleDefinitions()) {
    if (!def.patch) continue;
    const version = def.name.startsWith('@') ? (require(`${def.name}/package.json`) as { version: string }).version : process.versions.node;
    def.patch(require(def.name), version);
  }
}

const { startStack, startReceiver, eventually } = require('./support/stack') as typeof import('./support/stack');
const { nimbusFixtures, clone } = require('../fixtures/nimbus') as typeof import('../fixtures/nimbus');

const kindName = (k: number) => SpanKind[k] ?? String(k);
const describeSpan = (s: ReadableSpan) => `${kindName(s.kind)} ${s.name}`;

describe('trace chain (HTTP → gRPC → NATS → delivery)', () => {
  let stack: Stack;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack('trace_chain');
  }, 30_000);

  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
    await sdk.shutdown();
  });

  it('carries one trace id from the ingress request to the subscriber', async () => {
    const { clinicId, apiKey } = await stack.createClinic();
    await stack.addSubscriber(clinicId, `${receiver.url}/hook`);
    exporter.reset();

    const res = await stack.send(apiKey, clone(nimbusFixtures['shipment:created']));
    expect(res.status).toBe(200);
    const eventId = res.body.event_id as string;

    const delivered = await eventually(() => receiver.requests.find((r) => r.headers['webhook-id'] === eventId));
    // The undici CLIENT span ends when the response is read; give the processor a moment.
    const spans = await eventually(() => {
      const all = exporter.getFinishedSpans();
      const attemptEnded = all.some((s) => s.name === 'delivery attempt' && s.attributes['switchyard.event_id'] === eventId);
      const consumed = all.some((s) => s.kind === SpanKind.CONSUMER && s.attributes['switchyard.event_id'] === eventId);
      return attemptEnded && consumed && all;
    });

    if (process.env.TRACE_DEBUG) {
      for (const s of spans) process.stdout.write(`${s.spanContext().traceId} ${s.parentSpanContext?.spanId ?? '-'} ${describeSpan(s)} ${JSON.stringify(s.attributes)}\n`);
    }
    const server = spans.find((s) => s.kind === SpanKind.SERVER && /POST/.test(s.name) && s.attributes['url.path'] === '/webhooks/nimbus');
    expect(server).toBeDefined();
    const traceId = server!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    // Printed for the record (and for the report): the spans of this trace, in start order.
    process.stdout.write(
      `trace ${traceId}:\n${[...inTrace]
        .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
        .map((s) => `  ${describeSpan(s)}`)
        .join('\n')}\n`,
    );

    const has = (kind: number, test: (s: ReadableSpan) => boolean) => inTrace.some((s) => s.kind === kind && test(s));
    expect(has(SpanKind.CLIENT, (s) => s.name === 'grpc.dedupe.v1.DedupeService/ClaimBatch')).toBe(true);
    expect(has(SpanKind.SERVER, (s) => s.name === 'grpc.dedupe.v1.DedupeService/ClaimBatch')).toBe(true);
    expect(has(SpanKind.PRODUCER, (s) => / publish$/.test(s.name))).toBe(true);
    expect(has(SpanKind.CONSUMER, (s) => / process$/.test(s.name) && s.attributes['switchyard.event_id'] === eventId)).toBe(true);
    expect(has(SpanKind.INTERNAL, (s) => s.name === 'delivery attempt' && s.attributes['switchyard.event_id'] === eventId)).toBe(true);
    const outbound = inTrace.find((s) => s.kind === SpanKind.CLIENT && String(s.attributes['url.full'] ?? '').startsWith(receiver.url));
    expect(outbound).toBeDefined();

    // The subscriber got exactly one traceparent, naming this trace and the outbound CLIENT span.
    const header = delivered.headers.traceparent;
    expect(typeof header).toBe('string');
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect((header as string).split('-')[1]).toBe(traceId);
    expect((header as string).split('-')[2]).toBe(outbound!.spanContext().spanId);
  });
});
