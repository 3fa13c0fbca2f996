import { Controller, Inject } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { status } from '@grpc/grpc-js';
import { Observable, mergeMap } from 'rxjs';
import { MAX_CLAIM_LEASE_MS } from '@switchyard/config';
import { dedupeV1 } from '@switchyard/contracts';
import { ClaimStore, ServedBatchTrace } from '@switchyard/dedupe';
import { LOGGER, Logger, Metrics } from '@switchyard/observability';
import { UUID_PATTERN } from '@switchyard/persistence';

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

/*
 * What the claim statement takes, checked before a request joins it: the store writes the claims and
 * completions of all callers made in one turn in one statement, so a value Postgres refuses would fail that
 * statement and answer every other caller's claims in it UNAVAILABLE. Such a request is answered
 * INVALID_ARGUMENT instead, and nothing of it is written.
 */
/**
 * Each key is an entry of the claims' primary-key index, which Postgres caps at 2,704 bytes; ingress's keys
 * are 64 (a sha-256 in hex). A clinic id is a UUID at ingress; the bound keeps a day's rows (DEDUPE_TTL) small.
 */
const MAX_KEY_BYTES = 256;
const MAX_CLINIC_ID_BYTES = 256;

/** A required text field: Postgres's text cannot hold a NUL character. */
function textProblem(field: string, value: string, maxBytes: number): string | undefined {
  if (!value) return `${field} is required`;
  if (value.includes('\0')) return `${field} must not contain a NUL character`;
  if (Buffer.byteLength(value) > maxBytes) return `${field} must be at most ${maxBytes} bytes of UTF-8`;
  return undefined;
}

/**
 * `lease_ms` is 0 (the server's DEDUPE_LEASE) or up to an hour (MAX_CLAIM_LEASE_MS, which bounds DEDUPE_LEASE
 * too, so ingress never asks for more): far below the statement's int of milliseconds (2^31 − 1, ~24.8 days).
 * The event id is stored as a uuid, which Postgres also reads from other spellings; only the canonical one is
 * taken, as it is the one answered back.
 */
function claimProblem(c: dedupeV1.ClaimRequest): string | undefined {
  return (
    textProblem('key', c.key, MAX_KEY_BYTES) ??
    textProblem('clinic_id', c.clinicId, MAX_CLINIC_ID_BYTES) ??
    (UUID_PATTERN.test(c.eventId) ? undefined : 'event_id must be a UUID (8-4-4-4-12 hex digits)') ??
    (Number.isInteger(c.leaseMs) && c.leaseMs >= 0 && c.leaseMs <= MAX_CLAIM_LEASE_MS
      ? undefined
      : `lease_ms must be at most ${MAX_CLAIM_LEASE_MS} (an hour); 0 means the server default`)
  );
}

/** A completion or release names its claim's key and the token the claim answered (the store makes a UUID). */
function heldClaimProblem(r: { key: string; token: string }): string | undefined {
  return textProblem('key', r.key, MAX_KEY_BYTES) ?? (UUID_PATTERN.test(r.token) ? undefined : 'token must be the UUID a new claim answered');
}

/** Refuses the request at its first bad item with INVALID_ARGUMENT, naming the item in a list (`claims[2]: …`). */
function assertValid<T>(items: readonly T[], problemOf: (item: T) => string | undefined, list?: string): void {
  items.forEach((item, i) => {
    const problem = problemOf(item);
    if (problem) throw new RpcException({ code: status.INVALID_ARGUMENT, message: list ? `${list}[${i}]: ${problem}` : problem });
  });
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
    assertValid([req], claimProblem);
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
    assertValid(req.claims, claimProblem, 'claims');
    assertValid(req.completions, heldClaimProblem, 'completions');
    const completed = this.completeAll(req.completions, traced);
    const results = req.claims.map((c) => (traced ? traced.claim(c, this.claimValid(c)) : this.claimValid(c)));
    const [done, answers] = await Promise.all([completed, Promise.all(results)]);
    return { results: answers, completed: done };
  }

  async completeBatch(req: dedupeV1.CompleteBatchRequest): Promise<dedupeV1.CompleteBatchResponse> {
    assertValid(req.completions, heldClaimProblem, 'completions');
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
    assertValid([req], heldClaimProblem);
    return { completed: await this.guard(() => this.claims.complete(req.key, req.token)) };
  }

  async release(req: dedupeV1.ReleaseRequest): Promise<dedupeV1.ReleaseResponse> {
    assertValid([req], heldClaimProblem);
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
