import { NatsConnection, nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  JetStreamManager,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
} from '@nats-io/jetstream';
import { Subjects } from '@switchyard/contracts';
import type { AppConfig } from '@switchyard/config';

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
 * `Nats-Msg-Id` duplicate window on restart. The fan-out consumer is durable with explicit acks; retries
 * of deliveries are not kept here (see libs/delivery), so `max_ack_pending` only bounds work that fan-out
 * is storing right now.
 */
export async function ensureStreams(nc: NatsConnection, subjects: Subjects, settings: StreamSettings): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
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
  await upsertStream(jsm, config);
  const consumer = {
    durable_name: subjects.fanoutConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs ?? 15_000),
    max_ack_pending: 2_000,
    filter_subject: subjects.inboundWildcard,
  };
  try {
    await jsm.consumers.info(subjects.inboundStream, subjects.fanoutConsumer);
    await jsm.consumers.update(subjects.inboundStream, subjects.fanoutConsumer, {
      ack_wait: consumer.ack_wait,
      max_ack_pending: consumer.max_ack_pending,
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(subjects.inboundStream, consumer);
  }
}

async function upsertStream(jsm: JetStreamManager, config: Parameters<JetStreamManager['streams']['add']>[0] & { name: string }) {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add(config);
  }
}

function isNotFound(err: unknown): boolean {
  if (err instanceof JetStreamApiError && (err.status === 404 || /not found/i.test(err.message))) return true;
  return /not found/i.test(String((err as Error)?.message));
}

/** Removes the streams of a prefix (tests). */
export async function deleteStreams(nc: NatsConnection, subjects: Subjects): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(subjects.inboundStream).catch(() => undefined);
}
