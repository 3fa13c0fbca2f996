import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { loadConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { eventually } from '../../../test/support/stack';
import { connectNats } from './nats-connection';
import { NatsLink } from './nats-link';
import { consumeInbound } from './durable-consumer';
import { deleteStreams, ensureStreams, streamSettingsFrom } from './streams';

const NATS_URL = 'nats://127.0.0.1:4222';

/**
 * Fan-out's consumer re-creates its stream when someone deletes it, numbered on from what Postgres holds. That
 * question can hang (a database behind a network that drops packets): against the loopback NATS, with a stream
 * prefix of its own, a first answer that never comes is given up and asked again, and the consumer is back.
 */
describe('the inbound consumer re-creating its stream', () => {
  let nc: NatsConnection;
  let link: NatsLink;
  const prefix = `t_recreate_${randomBytes(3).toString('hex')}`;
  const subjects = subjectsFor(prefix);
  const config = loadConfig({ ...process.env, NATS_URL, NATS_PREFIX: prefix });
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    nc = await connectNats(NATS_URL, 'test-recreate');
    await ensureStreams(nc, subjects, streamSettingsFrom(config));
    link = new NatsLink({ url: NATS_URL, name: 'test-recreate-consumer', log }).start();
  });

  afterAll(async () => {
    await link.close();
    await deleteStreams(nc, subjects);
    await nc.close();
  });

  it('gives up a first-sequence question that hangs and asks again, so a deleted stream comes back', async () => {
    let asked = 0;
    const firstSequence = () => (++asked === 1 ? new Promise<number>(() => undefined) : Promise.resolve(501));
    const consumer = consumeInbound(link, config, log, { firstSequence, firstSequenceTimeoutMs: 300 });
    const received: JsMsg[] = [];
    const consuming = (async () => {
      for await (const m of consumer) {
        received.push(m);
        m.ack();
      }
    })();
    try {
      await eventually(() => consumer.state === 'consuming', 10_000, 'the first attach');
      await (await jetstreamManager(nc)).streams.delete(subjects.inboundStream);

      await eventually(() => consumer.state === 'consuming' && consumer.attachments === 2, 20_000, 'the consumer back on a new stream');
      expect(asked).toBeGreaterThanOrEqual(2);
      // The new stream numbers on from the second answer, and the consumer gets what is published to it.
      const ack = await jetstream(nc).publish(subjects.inbound('clinic-1'), 'after');
      expect(ack.seq).toBe(501);
      await eventually(() => received.some((m) => m.seq === 501), 10_000, 'the message published after');
    } finally {
      await consumer.close();
      await consuming;
    }
  });
});
