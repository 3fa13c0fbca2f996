import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { DEDUPE_PROTO_PATH, dedupeV1 } from '@switchyard/contracts';
import { MicroBatcher } from '@switchyard/batching';
import { ClaimChannel, DedupeUnavailableError } from './claim-channel';
import { CLAIM_SPAN, COMPLETE_SPAN, ClaimSpanAttributes, carrying, endWith, recordClaimResult, startMemberSpan } from './claim-tracing';

export { DedupeUnavailableError } from './claim-channel';

interface PendingCompletion {
  req: dedupeV1.CompleteRequest;
  resolve: (completed: boolean) => void;
  reject: (err: unknown) => void;
}

/** Answers the completions a call carried from its response (`completed`, in order), or rejects them all with its failure. */
function settle<Res extends { completed: boolean[] }>(carried: PendingCompletion[], call: Promise<Res>): Promise<Res> {
  return call.then(
    (res) => {
      carried.forEach((c, i) => c.resolve(res.completed[i] ?? false));
      return res;
    },
    (err: unknown) => {
      carried.forEach((c) => c.reject(err));
      throw err;
    },
  );
}

export type ClaimReply = { outcome: 'new'; token: string; eventId: string } | { outcome: 'duplicate' | 'in_progress'; eventId: string };

function replyOf(res: dedupeV1.ClaimResponse): ClaimReply {
  switch (res.result) {
    case dedupeV1.ClaimResult.CLAIM_RESULT_NEW:
      return { outcome: 'new', token: res.token, eventId: res.eventId };
    case dedupeV1.ClaimResult.CLAIM_RESULT_DUPLICATE:
      return { outcome: 'duplicate', eventId: res.eventId };
    case dedupeV1.ClaimResult.CLAIM_RESULT_IN_PROGRESS:
      return { outcome: 'in_progress', eventId: res.eventId };
    default:
      throw new DedupeUnavailableError(`dedupe answered an unknown claim result ${res.result}`);
  }
}

type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

interface RawClient extends grpc.Client {
  Release: UnaryMethod<dedupeV1.ReleaseRequest, dedupeV1.ReleaseResponse>;
  ClaimStream: (metadata: grpc.Metadata) => grpc.ClientDuplexStream<dedupeV1.ClaimStreamRequest, dedupeV1.ClaimStreamResponse>;
}

/**
 * Ingress's client of the dedupe service, on the generated request/response types. The claims made in one
 * turn of the event loop travel together in one batch; up to 32 batches are in flight before further claims
 * wait and batch up (a bound of 8 queued claims behind busy calls at 500 req/s and doubled their latency).
 * Batches go over one ClaimStream (ClaimChannel), not a ClaimBatch call each: an HTTP/2 stream per call cost
 * enough garbage that ingress ran a full GC every ~5 s at 500 req/s. Completions are not urgent (the event is
 * stored already): they ride along with the next batch of claims, so each event costs one round trip to
 * dedupe and one statement there instead of two, or go in a batch without claims after `completionLingerMs`.
 * Each batch has a deadline; any failure becomes DedupeUnavailableError (ingress answers 503).
 */
export class DedupeClient {
  private readonly client: RawClient;
  private readonly channel: ClaimChannel;
  private readonly claims: MicroBatcher<dedupeV1.ClaimRequest, dedupeV1.ClaimResponse>;
  private pendingCompletions: PendingCompletion[] = [];
  private completionTimer?: NodeJS.Timeout;

  constructor(
    address: string,
    private readonly timeoutMs: number,
    private readonly completionLingerMs = 10,
  ) {
    const definition = protoLoader.loadSync(DEDUPE_PROTO_PATH, { keepCase: false, longs: Number, enums: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const Ctor = pkg.dedupe.v1.DedupeService as grpc.ServiceClientConstructor;
    this.client = new Ctor(address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    }) as unknown as RawClient;
    this.claims = new MicroBatcher((claims) => this.claimBatch(claims), 128, 32);
    this.channel = new ClaimChannel((metadata) => this.client.ClaimStream(metadata), timeoutMs);
  }

  /** In a traced request, the claim is a span of its own there (from here to its answer), linked to its batch. */
  async claim(req: dedupeV1.ClaimRequest): Promise<ClaimReply> {
    const span = startMemberSpan(CLAIM_SPAN);
    if (!span) return replyOf(await this.claims.submit(req));
    span.setAttributes({ [ClaimSpanAttributes.eventId]: req.eventId, [ClaimSpanAttributes.clinicId]: req.clinicId });
    return replyOf(await endWith(span, this.claims.submit(carrying(span, req)), (res) => recordClaimResult(span, res.result)));
  }

  /**
   * Resolves once dedupe has marked the claim done (true), or found it taken over meanwhile (false). In a
   * traced request, a span of its own there until then, linked to the batch it rode in.
   */
  complete(key: string, token: string): Promise<boolean> {
    const span = startMemberSpan(COMPLETE_SPAN);
    const req = span ? carrying(span, { key, token }) : { key, token };
    const done = new Promise<boolean>((resolve, reject) => {
      this.pendingCompletions.push({ req, resolve, reject });
      this.completionTimer ??= setTimeout(() => void this.flushCompletions(), this.completionLingerMs);
    });
    return span ? endWith(span, done, (completed) => span.setAttribute(ClaimSpanAttributes.completed, completed)) : done;
  }

  async release(key: string, token: string, metadata = new grpc.Metadata()): Promise<boolean> {
    return (await this.call(this.client.Release, { key, token }, metadata)).released;
  }

  /** True when the channel is connected or can connect within the timeout. */
  ready(timeoutMs = 1_000): Promise<boolean> {
    return new Promise((resolve) => this.client.waitForReady(Date.now() + timeoutMs, (err) => resolve(!err)));
  }

  /** Sends the completions still waiting, then closes the channel. */
  async close(): Promise<void> {
    await this.flushCompletions();
    await this.channel.close();
    this.client.close();
  }

  private async claimBatch(claims: dedupeV1.ClaimRequest[]): Promise<dedupeV1.ClaimResponse[]> {
    const carried = this.takeCompletions();
    const res = await settle(carried, this.channel.call({ claims, completions: carried.map((c) => c.req) }));
    return res.results;
  }

  private async flushCompletions(): Promise<void> {
    while (this.pendingCompletions.length > 0) {
      const carried = this.takeCompletions();
      await settle(carried, this.channel.call({ claims: [], completions: carried.map((c) => c.req) })).catch(
        () => undefined, // each carried completion has its own rejection
      );
    }
  }

  private takeCompletions(max = 256): PendingCompletion[] {
    clearTimeout(this.completionTimer);
    this.completionTimer = undefined;
    const taken = this.pendingCompletions.splice(0, max);
    if (this.pendingCompletions.length > 0) this.completionTimer = setTimeout(() => void this.flushCompletions(), this.completionLingerMs);
    return taken;
  }

  private call<Req, Res>(method: UnaryMethod<Req, Res>, req: Req, metadata: grpc.Metadata): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, metadata, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err || !res) reject(new DedupeUnavailableError(`dedupe call failed: ${err?.details || err?.message || 'no response'}`));
        else resolve(res);
      });
    });
  }
}
