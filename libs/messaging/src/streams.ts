import { NatsConnection, nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  JetStreamManager,
  RetentionPolicy,
  StorageType,
  StreamConfig,
  StreamInfo,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { AppConfig } from '@switchyard/config';
import { Subjects } from '@switchyard/contracts';
import { NATS_BACKOFF, backoffDelay, pause } from './backoff';
import { isNotFound, isTransientJetStreamError } from './jetstream-errors';
import type { MessagingLog } from './nats-connection';

export interface StreamSettings {
  replicas: number;
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
  /** How long a message taken by a fan-out replica stays its own before JetStream gives it to another (after a crash). */
  ackWaitMs?: number;
}

/** The stream and consumer settings the configuration asks for. */
export function streamSettingsFrom(c: AppConfig): StreamSettings {
  return {
    replicas: c.STREAM_REPLICAS,
    maxAgeMs: c.STREAM_MAX_AGE,
    maxBytes: c.STREAM_MAX_BYTES,
    duplicateWindowMs: c.STREAM_DUPLICATE_WINDOW,
    ackWaitMs: c.FANOUT_ACK_WAIT,
  };
}

/**
 * The inbound stream uses Limits retention with a MaxAge, not WorkQueue: WorkQueue forgets the
 * `Nats-Msg-Id` duplicate window on restart. With STREAM_REPLICAS=3 the stream and its consumer are
 * Raft groups over three servers: either survives losing its leader.
 */
export function inboundStreamConfig(subjects: Subjects, settings: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: subjects.inboundStream,
    subjects: [subjects.inboundWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: settings.replicas,
    max_age: nanos(settings.maxAgeMs),
    max_bytes: settings.maxBytes,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(settings.duplicateWindowMs),
  };
}

/**
 * The fan-out consumer: durable, explicit acks. Retries of deliveries are not kept here (see
 * libs/delivery), so `max_ack_pending` only bounds work that fan-out is storing right now. Its replicas
 * follow the stream's.
 */
export function fanoutConsumerConfig(subjects: Subjects, settings: StreamSettings): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: subjects.fanoutConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs ?? 15_000),
    max_ack_pending: 2_000,
    filter_subject: subjects.inboundWildcard,
  };
}

export interface EnsureOptions {
  /**
   * How long to keep retrying while JetStream is not answering yet (no meta leader elected, servers still
   * joining, a request timing out); 0 = one try. Other errors fail at once.
   */
  waitMs?: number;
  log?: MessagingLog;
  signal?: AbortSignal;
  /**
   * The sequence a stream created here numbers its first message with: one past the highest stored in
   * Postgres (see upsertStream). Asked only when the stream is missing; without it a new stream starts at 1.
   */
  firstSequence?: () => Promise<number>;
}

/**
 * Creates or updates the inbound stream and the fan-out consumer (idempotent). Set-up runs it once with a
 * deadline; fan-out runs it again when it finds its stream or consumer gone, so the apps never depend on
 * set-up having run against the NATS they meet.
 */
export async function ensureStreams(nc: NatsConnection, subjects: Subjects, settings: StreamSettings, options: EnsureOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc);
      await upsertStream(nc, jsm, subjects, inboundStreamConfig(subjects, settings), options.firstSequence);
      await upsertConsumer(jsm, subjects.inboundStream, fanoutConsumerConfig(subjects, settings));
      return;
    } catch (err) {
      const wait = backoffDelay(attempt, NATS_BACKOFF);
      if (!isTransientJetStreamError(err) || Date.now() + wait > deadline || options.signal?.aborted) throw err;
      options.log?.warn(
        { stream: subjects.inboundStream, attempt: attempt + 1, retry_in_ms: wait, err: { message: (err as Error).message } },
        'JetStream is not answering yet (electing a leader?); retrying',
      );
      await pause(wait, options.signal);
    }
  }
}

/**
 * A stream created to number on from `first` carries this one subject (`<prefix>.numbering.<first>`), which
 * no one publishes to, until it is numbered (see numberOn): a message published to the stream before that
 * would be purged with it. The number travels in the subject so that whoever finds the stream half made
 * numbers it the same way.
 */
function numberingOf(info: StreamInfo, subjects: Subjects): number | null {
  const list = info.config.subjects ?? [];
  if (list.length !== 1 || !list[0]!.startsWith(subjects.numberingPrefix)) return null;
  const first = Number(list[0]!.slice(subjects.numberingPrefix.length));
  return Number.isSafeInteger(first) ? first : null;
}

/**
 * Creates the stream, or brings an existing one to `config`. A stream created anew while Postgres holds
 * events of an earlier one (its NATS store lost, or deleted by hand) numbers on from them instead of from
 * 1: fan-out orders deliveries by stream sequence and attempts a message straight away only when its
 * sequence is above every stored one (InboundConsumer.firstDelivery), so a restart at 1 would put new
 * events before old ones and send every delivery through the Postgres queue until the new numbers passed
 * the old. A stream its creator left half made (still on its numbering subject) is finished by whoever
 * comes next; one that changes under the numbering (finished or re-created by another process) is looked
 * at again.
 */
async function upsertStream(
  nc: NatsConnection,
  jsm: JetStreamManager,
  subjects: Subjects,
  config: Partial<StreamConfig> & { name: string },
  firstSequence?: () => Promise<number>,
) {
  for (let look = 1; look <= 5; look++) {
    let info = await streamInfo(jsm, config.name);
    if (!info) {
      const first = firstSequence ? await firstSequence() : 1;
      if (first <= 1) {
        await addStream(jsm, config);
        return;
      }
      try {
        info = await addStream(jsm, { ...config, subjects: [`${subjects.numberingPrefix}${first}`] });
      } catch (err) {
        // Another process created it meanwhile, numbered or not: it is finished as found.
        info = await streamInfo(jsm, config.name);
        if (!info) throw err;
      }
    }
    const first = numberingOf(info, subjects);
    if (first !== null && !(await numberOn(nc, jsm, info, first))) continue;
    await jsm.streams.update(config.name, config);
    return;
  }
  throw new Error(`stream ${config.name} kept changing while it was being numbered`);
}

/** JetStream's answer to a stream whose store could not be made ("error creating store for stream"). */
const STREAM_STORE_FAILED = 10049;

/**
 * Adds a stream, trying again (twice, 50 then 100 ms later) when its store could not be made: nats-server 2.9
 * removes an account's store directory when the account's last stream is deleted, and a stream created at
 * that moment fails to make its own (10 of 600 creations raced against such a delete on a private server;
 * `npm test` met it once, two suites' streams going and coming at once). A store that cannot be made for
 * another reason (a full disk, permissions) still fails, a moment later.
 */
function addStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<StreamInfo> {
  return tried(3, (err) => err instanceof JetStreamApiError && err.code === STREAM_STORE_FAILED, () => jsm.streams.add(config), (attempt) => 50 * attempt);
}

/** Runs `step` up to `times` times while it fails with an error `again` accepts, `delayMs(attempt)` after each failure. */
async function tried<T>(times: number, again: (err: unknown) => boolean, step: () => Promise<T>, delayMs: (attempt: number) => number = () => 0): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (attempt >= times || !again(err)) throw err;
      await pause(delayMs(attempt));
    }
  }
}

/**
 * Makes `first` the sequence of the stream's next message (JetStream 2.9 has no `first_seq` in its config);
 * false when the stream is no longer the one `info` describes. Purging an empty stream up to a sequence
 * moves its numbering there, but a replicated stream then refuses its next publish once ("expected sequence
 * does not match store") while its replicas agree on the new number. So one message is published on the
 * numbering subject, at `first − 1`, and purged again: a purge of messages leaves the numbering where it
 * is. Each step is safe to repeat, by this process or another: the purge up to `first − 1` runs only on the
 * same stream still empty on its numbering subject (checked right before it: `info` may be a round trip
 * old), and a stream given its subjects meanwhile answers the placeholder with no responders, which
 * ensureStreams retries (it then finds the stream finished). Exported for its tests.
 */
export async function numberOn(nc: NatsConnection, jsm: JetStreamManager, info: StreamInfo, first: number): Promise<boolean> {
  const name = info.config.name;
  const subject = info.config.subjects![0]!;
  if (info.state.last_seq < first - 1) {
    if (info.state.last_seq + 1 < first - 1) {
      const now = await streamInfo(jsm, name);
      const same = now?.created === info.created && now.config.subjects?.length === 1 && now.config.subjects[0] === subject;
      if (!same || now.state.messages > 0) return false;
      await jsm.streams.purge(name, { seq: first - 1 });
    }
    const js = jetstream(nc);
    await tried(5, (err) => /expected sequence does not match/i.test((err as Error).message), () => js.publish(subject, new Uint8Array(0), { expect: { streamName: name } }));
  }
  await jsm.streams.purge(name, { filter: subject });
  return true;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return undefined;
  }
}

async function upsertConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }) {
  try {
    await jsm.consumers.info(stream, config.durable_name);
    await jsm.consumers.update(stream, config.durable_name, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, config);
  }
}

/** Removes the streams of a prefix (tests). */
export async function deleteStreams(nc: NatsConnection, subjects: Subjects): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(subjects.inboundStream).catch(() => undefined);
}
