import { ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('switchyard-batching');

/** Attributes a batch span and each of its members carry. */
export const BatchSpanAttributes = { size: 'switchyard.batch_size' } as const;

/**
 * The span of one item of an in-process batch (an event stored with others in one statement), in the
 * item's own trace, from when it joins the batch until its batch is written. Undefined when the caller
 * has no recording span: with tracing off this is one context lookup and allocates nothing.
 */
export function startBatchMember(name: string, attributes?: Record<string, string | number>): Span | undefined {
  const active = context.active();
  if (active === ROOT_CONTEXT || !trace.getSpan(active)?.isRecording()) return undefined;
  return tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, active);
}

/**
 * Runs the write of a batch as a span of its own trace (it belongs to no one item), linked to every member
 * span, each of which links back to it. A batch none of whose members is traced has no span.
 */
export async function inBatchSpan<T>(name: string, members: Array<Span | undefined>, write: () => Promise<T>): Promise<T> {
  const traced = members.filter((m): m is Span => m !== undefined);
  if (traced.length === 0) return write();
  const size = { [BatchSpanAttributes.size]: members.length };
  const batch = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: size, links: traced.map((m) => ({ context: m.spanContext() })) }, ROOT_CONTEXT);
  for (const m of traced) m.addLink({ context: batch.spanContext() }).setAttributes(size);
  try {
    return await context.with(trace.setSpan(ROOT_CONTEXT, batch), write);
  } catch (err) {
    batch.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    batch.end();
  }
}

/** Ends a member span when its batch has answered for it (an error marks it). */
export function endBatchMember<T>(span: Span | undefined, answer: Promise<T>): Promise<T> {
  if (!span) return answer;
  return answer.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      span.end();
      throw err;
    },
  );
}
