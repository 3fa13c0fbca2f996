import { Consumer, ConsumerInfo, ConsumerMessages, JsMsg, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { withTimeout } from '@switchyard/batching';
import type { AppConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { BackoffOptions, NATS_BACKOFF, backoffDelay, pause } from './backoff';
import { isNotFound } from './jetstream-errors';
import type { MessagingLog } from './nats-connection';
import type { NatsDependent, NatsLink } from './nats-link';
import { ensureStreams, streamSettingsFrom } from './streams';

/** Wait between finding the stream or consumer gone and creating it again. */
const RECREATE_AFTER_MS = 1_000;

export type DurableConsumerState = 'waiting_for_nats' | 'attaching' | 'consuming' | 'closed';

export interface DurableConsumerOptions {
  stream: string;
  consumer: string;
  /** Messages asked for per pull (about this many are buffered in the client). */
  maxMessages: number;
  /**
   * Each pull request expires after this (≥ 1 s; the client sends the next one before). Short, because a
   * pull held by a server that died or lost the consumer's leadership is only replaced when it expires or
   * heartbeats stop. Default 5 s.
   */
  expiresMs?: number;
  /** The server's heartbeat on an idle pull; two missed make the client check the consumer and pull again. Default 1 s. */
  idleHeartbeatMs?: number;
  /** Heartbeats missed in a row, while connected, after which the consumer is attached again from scratch. Default 5. */
  reattachAfterMissedHeartbeats?: number;
  /** Timeout of JetStream API calls (consumer info). Default 3 s. */
  apiTimeoutMs?: number;
  /** Creates the stream and the consumer when either is missing (ensureStreams with the app's settings). */
  recreate(nc: NatsConnection, signal: AbortSignal): Promise<void>;
  backoff?: BackoffOptions;
}

/**
 * A durable pull consumer that stays attached for ever: the messages of `for await (const m of consumer)`
 * keep coming across everything NATS can do to a running app —
 * - NATS unreachable at start or later: waits for the app's NatsLink, then attaches;
 * - a leader election (meta, stream or consumer): `consumers.get` fails or times out, and is retried with
 *   backoff; a pull that the old leader held is noticed within seconds (short `expires`, 1 s heartbeats)
 *   instead of the 30–45 s of the client's defaults;
 * - the consumer or its stream deleted under it (svix-webhooks #1844): re-created with `recreate` (the
 *   same config as set-up), without a restart.
 * Its state counts in the link's readiness (`/readyz` names nats while it is not consuming). `close()`
 * ends the iteration; messages already handed out may still be acked.
 */
export class DurableConsumer implements AsyncIterable<JsMsg>, NatsDependent {
  readonly name: string;
  private current: DurableConsumerState = 'attaching';
  private consumer?: Consumer;
  private messages?: ConsumerMessages;
  private readonly closing = new AbortController();
  private attachCount = 0;
  private iterating = false;
  private attachWaiters: Array<() => void> = [];

  constructor(
    private readonly link: NatsLink,
    private readonly options: DurableConsumerOptions,
    private readonly log: MessagingLog,
  ) {
    this.name = `${options.stream}/${options.consumer}`;
    link.depend(this);
  }

  get state(): DurableConsumerState {
    return this.current;
  }

  /** How many times it has attached (1 after a clean start; more after NATS faults). */
  get attachments(): number {
    return this.attachCount;
  }

  isReady(): boolean {
    return this.current === 'consuming';
  }

  /**
   * The consumer's info (pending, ack pending) from the server; waits up to `waitMs` for the first attach
   * (a lag report made as the app starts), and is undefined if there is no consumer by then.
   */
  async info(waitMs = 2_000): Promise<ConsumerInfo | undefined> {
    if (!this.consumer && waitMs > 0 && !this.closing.signal.aborted) {
      let attached!: () => void;
      const waiting = new Promise<void>((resolve) => this.attachWaiters.push((attached = resolve)));
      await Promise.race([waiting, pause(waitMs, this.closing.signal)]);
      this.attachWaiters = this.attachWaiters.filter((w) => w !== attached);
    }
    return this.consumer?.info();
  }

  /** Messages the client has received and not yet handed to the iterating loop. */
  buffered(): number {
    return this.messages?.getPending() ?? 0;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.current = 'closed';
    await this.messages?.close().catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JsMsg> {
    if (this.iterating) throw new Error(`${this.name} is already being consumed`);
    this.iterating = true;
    const signal = this.closing.signal;
    while (!signal.aborted) {
      const messages = await this.attach(signal);
      if (!messages) return;
      try {
        for await (const m of messages) yield m;
      } catch (err) {
        if (!signal.aborted) this.log.warn({ consumer: this.name, err: { message: (err as Error).message } }, 'pull consumer failed');
      } finally {
        if (this.messages === messages) this.messages = undefined;
      }
      if (signal.aborted) return;
      this.current = 'attaching';
      this.log.warn({ consumer: this.name }, 'pull consumer stopped; attaching again');
    }
  }

  /** Gets the consumer and starts pulling; retries (and re-creates what is missing) until it works or is closed. */
  private async attach(signal: AbortSignal): Promise<ConsumerMessages | undefined> {
    const { stream, consumer: durable } = this.options;
    for (let attempt = 0; !signal.aborted; attempt++) {
      if (!this.link.current()) this.current = 'waiting_for_nats';
      let nc: NatsConnection;
      try {
        nc = await this.link.connection();
      } catch {
        return undefined; // the link was closed: the app is stopping
      }
      if (signal.aborted) return undefined;
      this.current = 'attaching';
      try {
        const consumer = await jetstream(nc, { timeout: this.options.apiTimeoutMs ?? 3_000 }).consumers.get(stream, durable);
        const messages = await consumer.consume({
          max_messages: this.options.maxMessages,
          expires: this.options.expiresMs ?? 5_000,
          idle_heartbeat: this.options.idleHeartbeatMs ?? 1_000,
        });
        if (signal.aborted) {
          await messages.close().catch(() => undefined);
          return undefined;
        }
        this.consumer = consumer;
        this.messages = messages;
        this.current = 'consuming';
        this.attachCount++;
        for (const resolve of this.attachWaiters.splice(0)) resolve();
        void this.watch(messages);
        this.log.info({ consumer: this.name, attachments: this.attachCount }, 'pull consumer attached');
        return messages;
      } catch (err) {
        const wait = backoffDelay(attempt, this.options.backoff ?? NATS_BACKOFF);
        if (isNotFound(err)) {
          this.log.warn({ consumer: this.name, err: { message: (err as Error).message } }, 'stream or consumer missing; creating it');
          // Let the server finish removing what was deleted first: on nats-server 2.9 a stream or consumer
          // re-created under the same name at once raced that removal ("error creating store for
          // consumer", and a consumer that never delivered again).
          await pause(RECREATE_AFTER_MS, signal);
          try {
            await this.options.recreate(nc, signal);
            continue;
          } catch (createErr) {
            this.log.warn({ consumer: this.name, retry_in_ms: wait, err: { message: (createErr as Error).message } }, 'creating the stream or consumer failed; retrying');
          }
        } else {
          this.log.warn({ consumer: this.name, retry_in_ms: wait, err: { message: (err as Error).message } }, 'cannot attach the pull consumer yet; retrying');
        }
        await pause(wait, signal);
      }
    }
    return undefined;
  }

  /** Ends a pull whose consumer is gone, or that stays silent while NATS is connected, so `attach` starts over. */
  private async watch(messages: ConsumerMessages): Promise<void> {
    const limit = this.options.reattachAfterMissedHeartbeats ?? 5;
    for await (const s of messages.status()) {
      const gone = s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found';
      const silent = s.type === 'heartbeats_missed' && s.count >= limit && this.link.isConnected();
      if (gone || silent) {
        this.log.warn({ consumer: this.name, status: s.type }, gone ? 'the consumer or its stream is gone' : 'no heartbeats from the consumer');
        this.current = 'attaching';
        await messages.close().catch(() => undefined);
        return;
      }
    }
  }
}

/** A DurableConsumer on the app's link; it attaches when iterated: `for await (const m of consumeDurable(…))`. */
export function consumeDurable(link: NatsLink, options: DurableConsumerOptions, log: MessagingLog): DurableConsumer {
  return new DurableConsumer(link, options, log);
}

/** How long fan-out waits for Postgres to say where a re-created stream numbers from, before it tries again. */
export const FIRST_SEQUENCE_TIMEOUT_MS = 10_000;

/**
 * Fan-out's durable consumer of the inbound stream. When the stream or the consumer is missing (set-up
 * never ran against this NATS, or someone deleted them) it creates both with the app's own settings, a new
 * stream numbered from `firstSequence` (see ensureStreams). That question goes to Postgres, which may hang
 * rather than fail (a network that drops packets): it is given up after `firstSequenceTimeoutMs` and the
 * consumer tries again with backoff, so a stream deleted while Postgres hangs comes back once Postgres answers,
 * not when the operating system gives up on the hung connection, many minutes later.
 */
export function consumeInbound(
  link: NatsLink,
  config: AppConfig,
  log: MessagingLog,
  options: { maxMessages?: number; firstSequence?: () => Promise<number>; firstSequenceTimeoutMs?: number } = {},
): DurableConsumer {
  const subjects = subjectsFor(config.NATS_PREFIX);
  const ask = options.firstSequence;
  const firstSequence = ask && (() => withTimeout(ask(), options.firstSequenceTimeoutMs ?? FIRST_SEQUENCE_TIMEOUT_MS, 'asking Postgres where a new stream numbers from'));
  return consumeDurable(
    link,
    {
      stream: subjects.inboundStream,
      consumer: subjects.fanoutConsumer,
      maxMessages: options.maxMessages ?? 256,
      recreate: (nc, signal) =>
        ensureStreams(nc, subjects, streamSettingsFrom(config), { waitMs: 10_000, log, signal, firstSequence }),
    },
    log,
  );
}
