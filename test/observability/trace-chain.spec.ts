/**
 * One event, one trace: ingress HTTP server span → dedupe claim (client and server) → JetStream publish
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
    // The claim (its batch is a trace of its own, linked: see the next test).
    expect(has(SpanKind.CLIENT, (s) => s.name === 'dedupe claim' && s.attributes['switchyard.event_id'] === eventId)).toBe(true);
    expect(has(SpanKind.SERVER, (s) => s.name === 'dedupe claim' && s.attributes['switchyard.event_id'] === eventId)).toBe(true);
    expect(has(SpanKind.PRODUCER, (s) => / publish$/.test(s.name))).toBe(true);
    expect(has(SpanKind.CONSUMER, (s) => / process$/.test(s.name) && s.attributes['switchyard.event_id'] === eventId)).toBe(true);
    expect(has(SpanKind.INTERNAL, (s) => s.name === 'delivery attempt' && s.attributes['switchyard.event_id'] === eventId)).toBe(true);
    // Fan-out stores the event in a batch with others: its own `store event` span, linked to the batch's span (a trace of its own).
    const stored = inTrace.find((s) => s.name === 'store event' && s.attributes['switchyard.event_id'] === eventId);
    expect(stored).toBeDefined();
    const batch = spans.find((s) => s.name === 'store inbound events' && s.links.some((l) => l.context.spanId === stored!.spanContext().spanId));
    expect(batch).toBeDefined();
    expect(stored!.links.map((l) => l.context.spanId)).toContain(batch!.spanContext().spanId);
    expect(batch!.attributes['switchyard.batch_size']).toBeGreaterThanOrEqual(1);
    const outbound = inTrace.find((s) => s.kind === SpanKind.CLIENT && String(s.attributes['url.full'] ?? '').startsWith(receiver.url));
    expect(outbound).toBeDefined();

    // The subscriber got exactly one traceparent, naming this trace and the outbound CLIENT span.
    const header = delivered.headers.traceparent;
    expect(typeof header).toBe('string');
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect((header as string).split('-')[1]).toBe(traceId);
    expect((header as string).split('-')[2]).toBe(outbound!.spanContext().spanId);
  });

  /**
   * The claims of one event-loop turn travel to dedupe as one batch message. The batch is a CLIENT and a
   * SERVER span linked to every claim in it, and every event's own trace holds its claim and its completion
   * (CLIENT in ingress, SERVER in dedupe), each linked to the batch span that carried it.
   */
  it('gives every event of a shared claim batch its own claim and completion spans, linked to the batch span', async () => {
    const { randomUUID } = require('node:crypto') as typeof import('node:crypto');
    const { apiKey } = await stack.createClinic();
    const shipment = () => {
      const body = clone(nimbusFixtures['shipment:created']) as any;
      body.event_data.shipment_id = randomUUID();
      return body;
    };
    // The first request of a key looks it up in Postgres; the ones below find it cached.
    expect((await stack.send(apiKey, shipment())).status).toBe(200);

    const N = 5;
    const spanId = (s: ReadableSpan) => s.spanContext().spanId;
    const traceOf = (s: ReadableSpan) => s.spanContext().traceId;
    const linksTo = (s: ReadableSpan, target: ReadableSpan) =>
      s.links.some((l) => l.context.spanId === spanId(target) && l.context.traceId === traceOf(target));
    const named = (spans: ReadableSpan[], kind: number, name: string) => spans.filter((s) => s.kind === kind && s.name === name);
    const BATCH = 'grpc.dedupe.v1.DedupeService/ClaimBatch';
    const claimsOf = (spans: ReadableSpan[], eventIds: string[]) =>
      eventIds.map((id) => named(spans, SpanKind.CLIENT, 'dedupe claim').find((s) => s.attributes['switchyard.event_id'] === id));

    // Requests sent together share a batch when ingress reads them in one turn of its event loop; one may
    // arrive a turn later (in the first round here, typically: 4 + 1), so send rounds until one shares (ten
    // rounds that never share fail the test).
    let shared: { spans: ReadableSpan[]; eventIds: string[]; claims: ReadableSpan[]; batch: ReadableSpan } | undefined;
    for (let round = 0; round < 10 && !shared; round++) {
      exporter.reset();
      const sent = await Promise.all(Array.from({ length: N }, () => stack.send(apiKey, shipment())));
      expect(sent.map((r) => r.status)).toEqual(Array(N).fill(200));
      const eventIds = sent.map((r) => r.body.event_id as string);
      const spans = await eventually(() => {
        const all = exporter.getFinishedSpans();
        const claims = claimsOf(all, eventIds);
        const traces = claims.map((c) => c && traceOf(c));
        const completes = named(all, SpanKind.CLIENT, 'dedupe complete').filter((s) => traces.includes(traceOf(s)));
        const serverCompletes = named(all, SpanKind.SERVER, 'dedupe complete').filter((s) => traces.includes(traceOf(s)));
        return claims.every(Boolean) && completes.length === N && serverCompletes.length === N && all;
      }, 10_000, 'a claim span (CLIENT) and a completion span (CLIENT and SERVER) in the trace of each event');
      const claims = claimsOf(spans, eventIds) as ReadableSpan[];
      const batch = named(spans, SpanKind.CLIENT, BATCH).find((b) => claims.every((c) => linksTo(b, c)));
      if (batch) shared = { spans, eventIds, claims, batch };
      if (process.env.TRACE_DEBUG) {
        const sizes = named(spans, SpanKind.CLIENT, BATCH).map((b) => b.attributes['switchyard.batch_size']);
        process.stdout.write(`round ${round}: ${batch ? 'one batch' : 'split'}; batch sizes ${sizes.join(' ')}\n`);
      }
    }
    expect(shared).toBeDefined();
    const { spans, eventIds, claims, batch } = shared!;

    // One batch span for the N claims, linked to each, in a trace of its own (it belongs to no one request).
    const traces = claims.map(traceOf);
    expect(new Set(traces).size).toBe(N);
    expect(traces).not.toContain(traceOf(batch));
    expect(batch.attributes['switchyard.batch_size']).toBe(batch.links.length);
    expect(batch.links.filter((l) => claims.some((c) => l.context.spanId === spanId(c)))).toHaveLength(N);
    const batchId = batch.attributes['switchyard.batch_id'];
    expect(typeof batchId).toBe('number');
    // Its SERVER span in dedupe: a child of the CLIENT one, linked to the claim contexts the message carried.
    const serverBatch = named(spans, SpanKind.SERVER, BATCH).find((s) => s.parentSpanContext?.spanId === spanId(batch));
    expect(serverBatch).toBeDefined();
    expect(serverBatch!.attributes).toMatchObject({ 'switchyard.batch_id': batchId, 'switchyard.batch_size': batch.links.length });
    for (const c of claims) expect(linksTo(serverBatch!, c)).toBe(true);

    eventIds.forEach((eventId, i) => {
      const claim = claims[i]!;
      const traceId = traceOf(claim);
      // The claim is a child of the ingress request that made it, linked to the batch that carried it.
      const request = spans.find((s) => spanId(s) === claim.parentSpanContext?.spanId);
      expect(request && describeSpan(request)).toMatch(/^SERVER POST/);
      expect(request!.attributes['url.path']).toBe('/webhooks/nimbus');
      expect(claim.attributes).toMatchObject({
        'switchyard.claim_result': 'new',
        'switchyard.batch_id': batchId,
        'switchyard.batch_size': batch.links.length,
      });
      expect(linksTo(claim, batch)).toBe(true);
      // dedupe's side of the same claim, in the same trace.
      const served = named(spans, SpanKind.SERVER, 'dedupe claim').filter((s) => s.parentSpanContext?.spanId === spanId(claim));
      expect(served).toHaveLength(1);
      expect(traceOf(served[0]!)).toBe(traceId);
      expect(served[0]!.attributes).toMatchObject({
        'switchyard.event_id': eventId,
        'switchyard.claim_result': 'new',
        'switchyard.batch_id': batchId,
      });
      expect(linksTo(served[0]!, serverBatch!)).toBe(true);
      // The completion rode in a later batch (it is made after the claim's answer) and keeps its trace too.
      const completes = named(spans, SpanKind.CLIENT, 'dedupe complete').filter((s) => traceOf(s) === traceId);
      expect(completes).toHaveLength(1);
      expect(completes[0]!.parentSpanContext?.spanId).toBe(spanId(request!));
      expect(completes[0]!.attributes['switchyard.completed']).toBe(true);
      const carrier = named(spans, SpanKind.CLIENT, BATCH).filter((b) => linksTo(b, completes[0]!));
      expect(carrier).toHaveLength(1);
      expect(linksTo(completes[0]!, carrier[0]!)).toBe(true);
      const completed = named(spans, SpanKind.SERVER, 'dedupe complete').filter((s) => s.parentSpanContext?.spanId === spanId(completes[0]!));
      expect(completed).toHaveLength(1);
      expect(completed[0]!.attributes['switchyard.completed']).toBe(true);
    });
  });
});
