import { Controller, Inject } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { status } from '@grpc/grpc-js';
import { Observable, mergeMap } from 'rxjs';
import { dedupeV1 } from '@switchyard/contracts';
import { ClaimStore, ServedBatchTrace } from '@switchyard/dedupe';
import { LOGGER, Logger, Metrics } from '@switchyard/observability';

const NO_CLAIMS: dedupeV1.ClaimBatchRequest = { claims: [], completions: [] };

/** The gRPC status an answer on the stream carries for a failed batch. */
function statusOf(err: unknown): { code: number; message: string } {
  const e = err instanceof RpcException ? (err.getError() as { code?: number; message?: string }) : undefined;
  return { code: e?.code ?? status.INTERNAL, message: e?.message ?? (err instanceof Error ? err.message : String(err)) };
}

const RESULT = {
  new: dedupeV1.ClaimResult.CLAIM_RESULT_NEW,
  duplicate: dedupeV1.ClaimResult.CLAIM_RESULT_DUPLICATE,
  in_progress: dedupeV1.ClaimResult.CLAIM_RESULT_IN_PROGRESS,
} as const;

function assertValidClaim(req: dedupeV1.ClaimRequest): void {
  if (!req.key || !req.clinicId || !/^[0-9a-f-]{36}$/i.test(req.eventId)) {
    throw new RpcException({ code: status.INVALID_ARGUMENT, message: 'key, clinic_id and a UUID event_id are required' });
  }
}

/** The gRPC face of the claim store. Database failures map to UNAVAILABLE, bad requests to INVALID_ARGUMENT. */
@Controller()
@dedupeV1.DedupeServiceControllerMethods()
export class DedupeGrpcController implements dedupeV1.DedupeServiceController {
  constructor(
    private readonly claims: ClaimStore,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async claim(req: dedupeV1.ClaimRequest): Promise<dedupeV1.ClaimResponse> {
    assertValidClaim(req);
    return this.claimValid(req);
  }

  claimBatch(req: dedupeV1.ClaimBatchRequest): Promise<dedupeV1.ClaimBatchResponse> {
    return this.writeBatch(req);
  }

  /**
   * ClaimBatch over one long-lived stream: every request is answered with its id as soon as its batch is
   * done (batches of one stream are written concurrently, like concurrent calls). A failed batch is answered
   * with its status instead, and the stream goes on. A traced batch is a SERVER span, and each traced claim
   * in it one in its caller's trace (ServedBatchTrace).
   */
  claimStream(requests: Observable<dedupeV1.ClaimStreamRequest>): Observable<dedupeV1.ClaimStreamResponse> {
    return requests.pipe(mergeMap((req) => this.answerOnStream(req)));
  }

  private answerOnStream(req: dedupeV1.ClaimStreamRequest): Promise<dedupeV1.ClaimStreamResponse> {
    const traced = ServedBatchTrace.start(req);
    return traced ? traced.answer(() => this.answer(req, traced)) : this.answer(req);
  }

  private async answer(req: dedupeV1.ClaimStreamRequest, traced?: ServedBatchTrace): Promise<dedupeV1.ClaimStreamResponse> {
    try {
      const batch = await this.writeBatch(req.batch ?? NO_CLAIMS, traced);
      return { id: req.id, batch, errorCode: 0, errorMessage: '' };
    } catch (err) {
      const { code, message } = statusOf(err);
      return { id: req.id, batch: undefined, errorCode: code, errorMessage: message };
    }
  }

  /**
   * The claims of a batch, and the completions it carries, join the store's own batching in that order
   * within one turn of the event loop: one statement, completions first, shared with other callers.
   */
  private async writeBatch(req: dedupeV1.ClaimBatchRequest, traced?: ServedBatchTrace): Promise<dedupeV1.ClaimBatchResponse> {
    req.claims.forEach(assertValidClaim);
    const completed = this.completeAll(req.completions, traced);
    const results = req.claims.map((c) => (traced ? traced.claim(c, this.claimValid(c)) : this.claimValid(c)));
    const [done, answers] = await Promise.all([completed, Promise.all(results)]);
    return { results: answers, completed: done };
  }

  async completeBatch(req: dedupeV1.CompleteBatchRequest): Promise<dedupeV1.CompleteBatchResponse> {
    return { completed: await this.completeAll(req.completions) };
  }

  /** Submits every completion now (synchronously, so a batch's claims that follow share their statement). */
  private completeAll(completions: dedupeV1.CompleteRequest[], traced?: ServedBatchTrace): Promise<boolean[]> {
    return this.guard(() =>
      Promise.all(
        completions.map((c) => {
          const done = this.claims.complete(c.key, c.token);
          return traced ? traced.complete(c, done) : done;
        }),
      ),
    );
  }

  private async claimValid(req: dedupeV1.ClaimRequest): Promise<dedupeV1.ClaimResponse> {
    const end = this.metrics.dedupeClaimDuration.startTimer({ side: 'server' });
    const answer = await this.guard(() => this.claims.claim(req))
      .catch((err: unknown) => {
        this.metrics.dedupeClaims.inc({ side: 'server', result: 'error' });
        throw err;
      })
      .finally(end);
    this.metrics.dedupeClaims.inc({ side: 'server', result: answer.outcome });
    return { result: RESULT[answer.outcome], token: answer.token, eventId: answer.eventId };
  }

  async complete(req: dedupeV1.CompleteRequest): Promise<dedupeV1.CompleteResponse> {
    return { completed: await this.guard(() => this.claims.complete(req.key, req.token)) };
  }

  async release(req: dedupeV1.ReleaseRequest): Promise<dedupeV1.ReleaseResponse> {
    return { released: await this.guard(() => this.claims.release(req.key, req.token)) };
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message } }, 'claim store failed');
      throw new RpcException({ code: status.UNAVAILABLE, message: 'claim store unavailable' });
    }
  }
}
