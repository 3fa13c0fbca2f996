import { Dispatcher, errors as undiciErrors } from 'undici';
import { SubscriberFormat, renderForSubscriber } from '@switchyard/contracts';
import type { AttemptOutcome, DeliveryJob, StoredEvent } from '@switchyard/persistence';
import type { Cancellation } from './cancellation';
import { signatureHeader } from './signature';

export const USER_AGENT = 'Switchyard-Webhooks/0.1 (+https://github.com/switchyard)';
/** At most this much of a response body is read and kept with the attempt. */
export const RESPONSE_EXCERPT_BYTES = 2_048;

export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseExcerpt: string | null;
  /** A 429/503 receiver's Retry-After, in milliseconds. */
  retryAfterMs?: number;
  startedAt: Date;
}

export interface SenderOptions {
  dispatcher: Dispatcher;
  defaultTimeoutMs: number;
  /** Classifies a connection error as a refused (blocked) address, for the attempt record. */
  isBlockedError?: (err: unknown) => boolean;
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Text as Postgres's `text` takes it: NUL, which a UTF-16, gzip or protobuf answer holds and a text column
 * refuses ("invalid byte sequence for encoding UTF8: 0x00"), becomes U+FFFD like any other byte that is
 * not UTF-8. An excerpt or error with a NUL failed the statement that wrote it: the record of a retry for
 * ever (the delivery sent again every lease), the store of a first attempt with every event of its batch.
 */
export function storableText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\ufffd') : text;
}

/** What came back: the status, the headers an attempt reads, at most RESPONSE_EXCERPT_BYTES of the body. */
interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  excerpt: string;
}

/** Why a request was given up: its time ran out, or its slot was lost. */
class GivenUp extends Error {
  constructor(readonly reason: 'timeout' | 'cancelled') {
    super(reason === 'timeout' ? 'the attempt ran out of time' : 'the attempt was cancelled');
  }
}

/**
 * One request through `dispatcher.dispatch`, its body kept up to `cap` bytes and then no longer read (a
 * 100 MB answer costs 2 KB: the connection is dropped). Cheaper than `dispatcher.request`, which wraps every
 * answer in a stream read through an async iterator (~8 % of fan-out's CPU in a backlog drain). `giveUp`
 * settles the promise at once (rejecting with GivenUp) and aborts the request, now or once it has started.
 */
function post(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, cap: number): { answer: Promise<Answer>; giveUp: (why: GivenUp) => void } {
  let controller: Dispatcher.DispatchController | undefined;
  let settled = false;
  let reason: GivenUp | undefined;
  let resolve!: (a: Answer) => void;
  let reject!: (err: Error) => void;
  const answer = new Promise<Answer>((res, rej) => ((resolve = res), (reject = rej)));
  let statusCode = 0;
  let headers: Answer['headers'] = {};
  const chunks: Buffer[] = [];
  let size = 0;
  /**
   * `handBack`: the answer was read to its end on a connection undici keeps. Undici takes the connection
   * back a full turn of the event loop later (a `setImmediate` queued once `onResponseEnd` returns: "make
   * sure that non-spec compliant servers are not closing the connection"), so an attempt started from the
   * answer's continuation before that (fan-out starts the next one as soon as a place frees) found it busy
   * and opened another: a draining fan-out held twice `DELIVERY_CONCURRENCY` connections to its receiver,
   * and 8 lanes of back-to-back attempts opened 13. The answer is passed on right after undici's turn: a
   * `setImmediate` queued from a microtask lands behind the one undici queued in this callback.
   */
  const finish = (handBack = false) => {
    if (settled) return;
    settled = true;
    const a: Answer = { statusCode, headers, excerpt: size === 0 ? '' : storableText(Buffer.concat(chunks).toString('utf8')) };
    if (handBack) queueMicrotask(() => setImmediate(resolve, a));
    else resolve(a);
  };
  const fail = (err: Error) => {
    if (settled) return;
    settled = true;
    reject(err);
  };
  dispatcher.dispatch(options, {
    onRequestStart(c) {
      controller = c;
      if (reason) c.abort(reason);
    },
    onResponseStart(_c, code, h) {
      statusCode = code;
      headers = h;
    },
    onResponseData(c, chunk) {
      if (settled) return;
      chunks.push(chunk.subarray(0, cap - size));
      size += Math.min(chunk.length, cap - size);
      if (size < cap) return;
      finish();
      c.abort(new Error('response excerpt read; the rest is not'));
    },
    onResponseEnd: () => finish(true),
    onResponseError(_c, err) {
      // A body that fails after its headers (not by our giving up) still leaves the status: no excerpt then.
      if (statusCode > 0 && !reason) {
        chunks.length = 0;
        size = 0;
        return finish();
      }
      fail(err);
    },
  });
  const giveUp = (why: GivenUp) => {
    if (settled || reason) return;
    reason = why;
    controller?.abort(why);
    fail(why);
  };
  return { answer, giveUp };
}

/**
 * One HTTP attempt of one delivery: the payload in the subscriber's format, Standard Webhooks headers,
 * the subscriber's X-API-Key when it registered one. A 2xx is success; anything else (3xx included: a
 * redirect is never followed) is a failure the caller may retry. The whole attempt is bounded by the
 * timeout, including a body that trickles.
 */
export class WebhookSender {
  /** An event's body per format, rendered once for all its subscribers (fan-out hands them one event object). */
  private readonly rendered = new WeakMap<StoredEvent, Partial<Record<SubscriberFormat, ReturnType<typeof renderForSubscriber>>>>();
  /** A subscriber's URL as undici takes it, parsed once per subscriber object (fan-out's cache hands out the same one). */
  private readonly targets = new WeakMap<DeliveryJob['subscriber'], { url: string; origin: string; path: string }>();

  constructor(private readonly options: SenderOptions) {}

  /** `cancel` aborts the attempt early (this process lost the right to have it open); it then fails as a network error. */
  async send(job: DeliveryJob, extraHeaders: Record<string, string> = {}, cancel?: Cancellation): Promise<AttemptResult> {
    const { event, subscriber } = job;
    const startedAt = new Date();
    let rendered: ReturnType<typeof renderForSubscriber>;
    try {
      rendered = this.render(event, subscriber.format);
    } catch (err) {
      // Only an event that bypassed ingress's validation can get here; retrying would fail the same way.
      const error = `the stored payload cannot be rendered as ${subscriber.format}: ${(err as Error).message}`.slice(0, 500);
      return { outcome: 'unrenderable', statusCode: null, durationMs: 0, error, responseExcerpt: null, startedAt };
    }
    const { contentType, payload } = rendered;
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': USER_AGENT,
      'webhook-id': event.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(subscriber.secrets, event.id, timestamp, payload),
      ...extraHeaders,
    };
    if (subscriber.apiKey) headers['x-api-key'] = subscriber.apiKey;

    const timeoutMs = subscriber.timeoutMs ?? this.options.defaultTimeoutMs;
    const t0 = performance.now();
    const elapsed = () => Math.round(performance.now() - t0);
    const target = this.target(subscriber);
    const { answer, giveUp } = post(
      this.options.dispatcher,
      { origin: target.origin, path: target.path, method: 'POST', headers, body: payload, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
      RESPONSE_EXCERPT_BYTES,
    );
    // The whole attempt, a trickling body included, is bounded by one timer; `cancel` is the slot's and
    // outlives the attempt, so the attempt stops listening to it when it ends.
    const timer = setTimeout(() => giveUp(new GivenUp('timeout')), timeoutMs);
    const stopListening = cancel?.onCancel(() => giveUp(new GivenUp('cancelled')));
    try {
      const { statusCode: code, headers: h, excerpt } = await answer;
      const ok = code >= 200 && code < 300;
      return {
        outcome: ok ? 'success' : code >= 300 && code < 400 ? 'redirect' : 'http_error',
        statusCode: code,
        durationMs: elapsed(),
        error: ok ? null : code >= 300 && code < 400 ? `redirect to ${String(h.location ?? '?').slice(0, 200)} not followed` : `HTTP ${code}`,
        responseExcerpt: excerpt || null,
        retryAfterMs: code === 429 || code === 503 ? retryAfterMs(h['retry-after']) : undefined,
        startedAt,
      };
    } catch (err) {
      const failure =
        err instanceof GivenUp && err.reason === 'cancelled'
          ? { outcome: 'network_error' as const, error: 'aborted: this process lost its in-flight slot for the subscriber' }
          : this.classify(err, timeoutMs);
      return { ...failure, statusCode: null, durationMs: elapsed(), responseExcerpt: null, startedAt };
    } finally {
      clearTimeout(timer);
      stopListening?.();
    }
  }

  private target(subscriber: DeliveryJob['subscriber']): { url: string; origin: string; path: string } {
    let t = this.targets.get(subscriber);
    if (!t || t.url !== subscriber.url) {
      const url = new URL(subscriber.url);
      this.targets.set(subscriber, (t = { url: subscriber.url, origin: url.origin, path: `${url.pathname}${url.search}` }));
    }
    return t;
  }

  private render(event: StoredEvent, format: SubscriberFormat): ReturnType<typeof renderForSubscriber> {
    let byFormat = this.rendered.get(event);
    if (!byFormat) this.rendered.set(event, (byFormat = {}));
    return (byFormat[format] ??= renderForSubscriber(format, {
      eventId: event.id,
      clinicId: event.clinicId,
      eventName: event.eventName,
      receivedAt: event.receivedAt.toISOString(),
      payload: event.payload,
      data: event.data,
    }));
  }

  private classify(err: unknown, timeoutMs: number): { outcome: AttemptOutcome; error: string } {
    if (this.options.isBlockedError?.(err)) return { outcome: 'blocked', error: (err as Error).message };
    if (
      err instanceof GivenUp ||
      err instanceof undiciErrors.HeadersTimeoutError ||
      err instanceof undiciErrors.BodyTimeoutError ||
      err instanceof undiciErrors.ConnectTimeoutError
    ) {
      return { outcome: 'timeout', error: `no complete answer within ${timeoutMs} ms` };
    }
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    return { outcome: 'network_error', error: storableText(`${code ? `${code}: ` : ''}${e.message}`.slice(0, 500)) };
  }
}
