import { Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { node, tracing } from '@opentelemetry/sdk-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { dedupeV1 } from '@switchyard/contracts';
import {
  CLAIM_BATCH_SPAN,
  CLAIM_SPAN,
  COMPLETE_SPAN,
  ServedBatchTrace,
  batchTraceContext,
  carrying,
  endWith,
  startClientBatchSpan,
  startMemberSpan,
} from './claim-tracing';

const claim = (n: number): dedupeV1.ClaimRequest => ({ key: `key-${n}`, clinicId: 'c1', eventId: `event-${n}`, leaseMs: 0 });
const NEW = dedupeV1.ClaimResult.CLAIM_RESULT_NEW;

describe('claim tracing', () => {
  // Jest gives each spec file its own globals: no tracer provider is registered here until the next block.
  it('with tracing off: no claim span, no context in the message, no batch span on either side', () => {
    expect(startMemberSpan(CLAIM_SPAN)).toBeUndefined();
    const batch = { claims: [claim(1), claim(2)], completions: [{ key: 'key-0', token: 't' }] };
    expect(startClientBatchSpan(1, batch)).toBeUndefined();
    expect(ServedBatchTrace.start({ id: 1, batch, traceparent: '', tracestate: '' })).toBeUndefined();
  });

  describe('with tracing on', () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new node.NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
    const tracer = trace.getTracer('claim-tracing-spec');
    /** Starts a member span as the request `request` would (it is the active span there). */
    const inRequest = (request: Span, name: typeof CLAIM_SPAN | typeof COMPLETE_SPAN) =>
      context.with(trace.setSpan(context.active(), request), () => startMemberSpan(name));
    const ids = (s: ReadableSpan) => s.spanContext();
    const linksTo = (s: ReadableSpan, target: ReadableSpan) => s.links.some((l) => l.context.spanId === ids(target).spanId);

    beforeAll(() => provider.register());
    beforeEach(() => exporter.reset());
    afterAll(async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    it('makes no claim span for a caller without a span of its own', () => {
      expect(startMemberSpan(CLAIM_SPAN)).toBeUndefined();
    });

    it('links the traced claims and completions of a batch to its span both ways, on both sides of the wire', async () => {
      const [a, b] = [tracer.startSpan('request a'), tracer.startSpan('request b')];
      const claimA = inRequest(a, CLAIM_SPAN)!;
      const completeB = inRequest(b, COMPLETE_SPAN)!;
      const original = claim(1);
      const batch = { claims: [carrying(claimA, original), claim(2)], completions: [carrying(completeB, { key: 'key-0', token: 't' })] };
      expect(original.traceparent).toBeUndefined(); // the caller's request is left as it was
      const clientBatch = startClientBatchSpan(7, batch)!;
      expect(clientBatch).toBeDefined();

      // What dedupe decodes: the same fields, without the objects' identity.
      const received: dedupeV1.ClaimStreamRequest = { id: 7, batch: structuredClone(batch), ...batchTraceContext(clientBatch) };
      const served = ServedBatchTrace.start(received)!;
      await served.answer(async () => {
        const answered = (c: dedupeV1.ClaimRequest) => served.claim(c, Promise.resolve({ result: NEW, token: 't', eventId: c.eventId }));
        const results = await Promise.all(received.batch!.claims.map(answered));
        const completed = await Promise.all(received.batch!.completions.map((c) => served.complete(c, Promise.resolve(true))));
        return { id: 7, batch: { results, completed }, errorCode: 0, errorMessage: '' };
      });
      await endWith(clientBatch, Promise.resolve());
      [claimA, completeB, a, b].forEach((s) => s.end());

      const spans = exporter.getFinishedSpans();
      const one = (kind: SpanKind, name: string, test: (s: ReadableSpan) => boolean = () => true) => {
        const found = spans.filter((s) => s.kind === kind && s.name === name && test(s));
        expect(found).toHaveLength(1);
        return found[0]!;
      };
      const [spanA, spanB] = [one(SpanKind.INTERNAL, 'request a'), one(SpanKind.INTERNAL, 'request b')];
      const clientClaim = one(SpanKind.CLIENT, CLAIM_SPAN);
      const clientComplete = one(SpanKind.CLIENT, COMPLETE_SPAN);
      const batchClient = one(SpanKind.CLIENT, CLAIM_BATCH_SPAN);
      const batchServer = one(SpanKind.SERVER, CLAIM_BATCH_SPAN);
      const servedClaim = one(SpanKind.SERVER, CLAIM_SPAN);
      const servedComplete = one(SpanKind.SERVER, COMPLETE_SPAN);

      // Ingress: each member in its request's trace; the batch a root of its own, linked both ways.
      expect(clientClaim.parentSpanContext?.spanId).toBe(ids(spanA).spanId);
      expect(clientComplete.parentSpanContext?.spanId).toBe(ids(spanB).spanId);
      expect(batchClient.parentSpanContext).toBeUndefined();
      expect(batchClient.links).toHaveLength(2);
      expect(linksTo(batchClient, clientClaim) && linksTo(batchClient, clientComplete)).toBe(true);
      expect(linksTo(clientClaim, batchClient) && linksTo(clientComplete, batchClient)).toBe(true);
      for (const s of [batchClient, clientClaim, clientComplete]) {
        expect(s.attributes).toMatchObject({ 'switchyard.batch_id': 7, 'switchyard.batch_size': 3 });
      }
      // dedupe: the batch a child of the client's, each carried context a child in its caller's trace.
      expect(batchServer.parentSpanContext?.spanId).toBe(ids(batchClient).spanId);
      expect(batchServer.attributes).toMatchObject({ 'switchyard.batch_id': 7, 'switchyard.batch_size': 3 });
      expect(linksTo(batchServer, clientClaim) && linksTo(batchServer, clientComplete)).toBe(true);
      expect(servedClaim.parentSpanContext?.spanId).toBe(ids(clientClaim).spanId);
      expect(ids(servedClaim).traceId).toBe(ids(spanA).traceId);
      expect(servedClaim.attributes).toMatchObject({ 'switchyard.event_id': 'event-1', 'switchyard.claim_result': 'new', 'switchyard.batch_id': 7 });
      expect(servedComplete.parentSpanContext?.spanId).toBe(ids(clientComplete).spanId);
      expect(servedComplete.attributes['switchyard.completed']).toBe(true);
      expect(linksTo(servedClaim, batchServer) && linksTo(servedComplete, batchServer)).toBe(true);
    });

    it('marks the spans of a failed batch as failed', async () => {
      const request = tracer.startSpan('request');
      const member = inRequest(request, CLAIM_SPAN)!;
      const batch = { claims: [carrying(member, claim(1))], completions: [] };
      const clientBatch = startClientBatchSpan(1, batch)!;
      const failure = Promise.reject(new Error('dedupe call failed: the dedupe service ended the stream'));
      await expect(endWith(member, endWith(clientBatch, failure))).rejects.toThrow(/ended the stream/);

      const served = ServedBatchTrace.start({ id: 1, batch: structuredClone(batch), ...batchTraceContext(clientBatch) })!;
      await served.answer(async () => ({ id: 1, batch: undefined, errorCode: 14, errorMessage: 'claim store unavailable' }));
      request.end();

      const statusOf = (kind: SpanKind, name: string) => exporter.getFinishedSpans().find((s) => s.kind === kind && s.name === name)?.status;
      const ended = 'dedupe call failed: the dedupe service ended the stream';
      expect(statusOf(SpanKind.CLIENT, CLAIM_SPAN)).toEqual({ code: SpanStatusCode.ERROR, message: ended });
      expect(statusOf(SpanKind.CLIENT, CLAIM_BATCH_SPAN)?.code).toBe(SpanStatusCode.ERROR);
      expect(statusOf(SpanKind.SERVER, CLAIM_BATCH_SPAN)).toEqual({ code: SpanStatusCode.ERROR, message: 'claim store unavailable' });
    });
  });
});
