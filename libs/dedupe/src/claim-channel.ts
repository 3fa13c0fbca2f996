import * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import { dedupeV1 } from '@switchyard/contracts';
import { batchTraceContext, endWith, startClientBatchSpan } from './claim-tracing';

/** What a failed call becomes for its caller (ingress answers 503 to it). */
export class DedupeUnavailableError extends Error {
  readonly code = 'DEDUPE_UNAVAILABLE';
}

type Duplex = grpc.ClientDuplexStream<dedupeV1.ClaimStreamRequest, dedupeV1.ClaimStreamResponse>;

interface Pending {
  resolve: (res: dedupeV1.ClaimBatchResponse) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** Settles with the call: what `close` waits for. */
  answered: Promise<unknown>;
}

/**
 * ClaimBatch calls over one long-lived `ClaimStream`: a request is written with an id and its answer
 * found by that id, so a claim costs a message on an open HTTP/2 stream instead of a stream of its own.
 * The stream is opened on first use (outside any request's trace: the gRPC instrumentation ignores it);
 * when it fails or ends, every call waiting on it fails with DedupeUnavailableError and the next call opens
 * a new one (the channel reconnects as for unary calls). Each call has its own deadline; an answer after it
 * is dropped, and a deadline that passes with nothing heard on the stream since the call was written
 * cancels the stream (a connection that hangs without closing). Answers the client had not read when the
 * stream broke are lost with it: those claims were made, so the sender's retry after the 503 is answered
 * 409 (in progress) until their lease runs out, and is new after that.
 */
export class ClaimChannel {
  private stream?: Duplex;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** When the current stream last delivered an answer. */
  private heardAt = 0;

  constructor(
    private readonly open: (metadata: grpc.Metadata) => Duplex,
    private readonly timeoutMs: number,
  ) {}

  /** Sends a batch; it is a span when a claim or completion in it is traced (see claim-tracing.ts). */
  call(batch: dedupeV1.ClaimBatchRequest): Promise<dedupeV1.ClaimBatchResponse> {
    const id = this.nextId++;
    const span = startClientBatchSpan(id, batch);
    if (!span) return this.send({ id, batch, traceparent: '', tracestate: '' });
    return endWith(span, this.send({ id, batch, ...batchTraceContext(span) }));
  }

  /** Ends the stream once the calls on it are answered (or have failed). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending.values()].map((p) => p.answered));
    this.stream?.end();
    this.stream = undefined;
  }

  private send(req: dedupeV1.ClaimStreamRequest): Promise<dedupeV1.ClaimBatchResponse> {
    if (this.closed) return Promise.reject(new DedupeUnavailableError('dedupe call failed: the client is closed'));
    let stream: Duplex;
    try {
      stream = this.stream ?? this.openStream();
      stream.write(req);
    } catch (err) {
      return Promise.reject(new DedupeUnavailableError(`dedupe call failed: ${(err as Error).message}`));
    }
    const writtenAt = performance.now();
    let entry!: Pending;
    const answered = new Promise<dedupeV1.ClaimBatchResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(req.id)) return;
        reject(new DedupeUnavailableError(`dedupe call failed: no answer within ${this.timeoutMs} ms`));
        if (this.stream === stream && this.heardAt < writtenAt) {
          stream.cancel();
          this.failAll(stream, `nothing heard on the stream for ${this.timeoutMs} ms`);
        }
      }, this.timeoutMs);
      entry = { resolve, reject, timer, answered: Promise.resolve() };
    });
    entry.answered = answered.catch(() => undefined);
    this.pending.set(req.id, entry);
    return answered;
  }

  private openStream(): Duplex {
    const stream = context.with(ROOT_CONTEXT, () => this.open(new grpc.Metadata()));
    this.heardAt = performance.now();
    stream.on('data', (res: dedupeV1.ClaimStreamResponse) => {
      this.heardAt = performance.now();
      this.answer(res);
    });
    stream.on('error', (err: grpc.ServiceError) => this.failAll(stream, err.details || err.message));
    stream.on('end', () => this.failAll(stream, 'the dedupe service ended the stream'));
    this.stream = stream;
    return stream;
  }

  private answer(res: dedupeV1.ClaimStreamResponse): void {
    const waiting = this.pending.get(res.id);
    if (!waiting) return; // its deadline passed
    this.pending.delete(res.id);
    clearTimeout(waiting.timer);
    if (res.batch && !res.errorCode) waiting.resolve(res.batch);
    else waiting.reject(new DedupeUnavailableError(`dedupe call failed: ${res.errorMessage || `status ${res.errorCode}`}`));
  }

  private failAll(stream: Duplex, why: string): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const p of failed) {
      clearTimeout(p.timer);
      p.reject(new DedupeUnavailableError(`dedupe call failed: ${why}`));
    }
  }
}
