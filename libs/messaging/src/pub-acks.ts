import { Msg, MsgHdrs, NatsConnection, Subscription, createInbox } from '@nats-io/transport-node';
import { NatsUnavailableError } from './nats-connection';

/** What the stream answered: where it stored the message, and whether it already held one with its id. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** The stream refused the message (full, wrong stream expected, …): JetStream's own code and description. */
export class PublishRejectedError extends Error {
  readonly code = 'PUBLISH_REJECTED';

  constructor(
    readonly status: number,
    readonly errCode: number,
    description: string,
  ) {
    super(`JetStream refused the message: ${description} (${status}, ${errCode})`);
  }
}

/** No PubAck within the timeout (NATS gone, reconnecting, or a stream leader being elected). */
export class PublishTimeoutError extends NatsUnavailableError {}

interface Waiting {
  resolve: (ack: PubAck) => void;
  reject: (err: Error) => void;
  /** performance.now() after which it has timed out. */
  due: number;
}

/**
 * JetStream publishes that wait for their PubAck, over one connection: each message goes out with a reply
 * subject under one inbox of ours, and one subscription there answers them all by the token that ends it.
 *
 * nats.js's own `js.publish` makes every publish a request: its own timer, a `Promise.race` against it, and
 * once answered a `RequestError('cancelled')` built (with its stack trace) to reject a promise already
 * resolved — ~2 % of ingress's CPU at 500 events/s, and garbage that the young generation kept (bench/RESULTS.md,
 * eighteenth round). Here a publish costs a map entry and a promise; timeouts are one timer for all, armed
 * at the oldest publish's deadline (publishes time out in the order they were made), so none fires per event.
 */
export class PubAcks {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private lastToken = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err ? this.failAll(err) : this.answer(msg)) });
    // The connection closed for good (the app's NatsLink makes a new one): nothing will answer these now.
    void this.sub.closed.then(() => this.failAll(new NatsUnavailableError('the NATS connection closed before JetStream answered')));
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    const token = ++this.lastToken;
    return new Promise<PubAck>((resolve, reject) => {
      const due = performance.now() + this.timeoutMs;
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${token}`, headers });
      } catch (err) {
        reject(err as Error); // closed or draining: nats.js says so at once
        return;
      }
      this.waiting.set(token, { resolve, reject, due });
      if (this.timer === undefined) this.armAt(due);
    });
  }

  /** Publishes still waiting for their PubAck. */
  get pending(): number {
    return this.waiting.size;
  }

  private answer(msg: Msg): void {
    const token = Number(msg.subject.slice(this.inbox.length + 1));
    const w = this.waiting.get(token);
    if (!w) return; // timed out already
    this.waiting.delete(token);
    // No stream listens on the subject (deleted, or JetStream not there): the server answers 503 with no body.
    if (msg.data.length === 0) {
      w.reject(new NatsUnavailableError(msg.headers?.code === 503 ? 'no JetStream stream answered (no responders)' : 'JetStream answered with no PubAck'));
      return;
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = msg.json();
    } catch {
      w.reject(new Error('JetStream answered a PubAck that is not JSON'));
      return;
    }
    if (ack.error) w.reject(new PublishRejectedError(ack.error.code ?? 0, ack.error.err_code ?? 0, ack.error.description ?? 'no description'));
    else if (!ack.stream || typeof ack.seq !== 'number') w.reject(new Error('JetStream answered an invalid PubAck'));
    else w.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true });
  }

  private armAt(at: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  /** Times out every publish past its deadline (the oldest first: the map keeps the order they were made in), then waits for the next one's. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const [token, w] of this.waiting) {
      if (w.due > now) {
        this.armAt(w.due);
        return;
      }
      this.waiting.delete(token);
      w.reject(new PublishTimeoutError(`no PubAck from JetStream within ${this.timeoutMs} ms`));
    }
  }

  private failAll(err: Error): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(err);
  }
}
