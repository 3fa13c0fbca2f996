import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsConnection, headers } from '@nats-io/transport-node';
import { connectNats, NatsUnavailableError } from './nats-connection';
import { PubAcks, PublishRejectedError, PublishTimeoutError } from './pub-acks';

const NATS_URL = 'nats://127.0.0.1:4222';

/** Publishes that wait for their PubAck, against the loopback NATS with a stream of the file's own. */
describe('PubAcks', () => {
  let nc: NatsConnection;
  const prefix = `t_pubacks_${randomBytes(3).toString('hex')}`;
  const stream = `${prefix}_s`;
  const full = `${prefix}_full`;
  const withId = (id: string) => {
    const h = headers();
    h.set('Nats-Msg-Id', id);
    return h;
  };

  beforeAll(async () => {
    nc = await connectNats(NATS_URL, 'test-pubacks');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.in.>`], duplicate_window: 60_000_000_000 });
    await jsm.streams.add({ name: full, subjects: [`${prefix}.full`], max_msgs: 1, discard: 'new' as never });
  });

  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    for (const name of [stream, full]) await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  });

  it('answers each publish with its own sequence, in whatever order they come back, and a resend as a duplicate', async () => {
    const acks = new PubAcks(nc, 2_000);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => acks.publish(`${prefix}.in.c${i % 7}`, Buffer.from(`m${i}`), withId(`id-${i}`))));
    expect(answers.every((a) => a.stream === stream && !a.duplicate)).toBe(true);
    expect(new Set(answers.map((a) => a.seq)).size).toBe(200);
    const jsm = await jetstreamManager(nc);
    // The stream stored each one where its PubAck said.
    for (const i of [0, 57, 199]) {
      const stored = await jsm.streams.getMessage(stream, { seq: answers[i]!.seq });
      expect(Buffer.from(stored!.data).toString()).toBe(`m${i}`);
    }
    const again = await acks.publish(`${prefix}.in.c0`, Buffer.from('m0'), withId('id-0'));
    expect(again).toEqual({ stream, seq: answers[0]!.seq, duplicate: true });
    expect(acks.pending).toBe(0);
  });

  it('rejects what the stream refuses with its JetStream code (a full stream that discards new messages)', async () => {
    const acks = new PubAcks(nc, 2_000);
    await acks.publish(`${prefix}.full`, Buffer.from('one'), withId('f1'));
    const refused = await acks.publish(`${prefix}.full`, Buffer.from('two'), withId('f2')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PublishRejectedError);
    expect((refused as PublishRejectedError).status).toBe(503);
    expect((refused as Error).message).toMatch(/maximum messages exceeded/);
  });

  it('rejects at once when no stream listens on the subject', async () => {
    const acks = new PubAcks(nc, 120_000); // longer than the test's own timeout: an answer that waited for it fails the test
    const err = await acks.publish(`${prefix}.nowhere`, Buffer.from('x'), withId('n1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsUnavailableError);
    expect(err).not.toBeInstanceOf(PublishTimeoutError);
    expect((err as Error).message).toMatch(/no responders/);
  });

  it('times out what nothing answers, each publish once its own timeout has passed', async () => {
    // A plain subscriber on the subject: the server has a responder, so no 503, but no PubAck ever comes.
    const silent = nc.subscribe(`${prefix}.silent`);
    try {
      const acks = new PubAcks(nc, 300);
      const first = acks.publish(`${prefix}.silent`, Buffer.from('a'), withId('s1')).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 150));
      const second = acks.publish(`${prefix}.silent`, Buffer.from('b'), withId('s2')).catch((e: unknown) => e);
      const answered = await acks.publish(`${prefix}.in.late`, Buffer.from('c'), withId('s3'));
      expect(answered.stream).toBe(stream);
      expect(await first).toBeInstanceOf(PublishTimeoutError);
      expect(acks.pending).toBe(1); // the second is not due yet
      expect(await second).toBeInstanceOf(PublishTimeoutError);
      expect(acks.pending).toBe(0);
    } finally {
      silent.unsubscribe();
    }
  });

  it('fails what is still waiting when its connection closes, and a publish on a closed connection at once', async () => {
    const own = await connectNats(NATS_URL, 'test-pubacks-closing');
    const silent = own.subscribe(`${prefix}.silent2`);
    const acks = new PubAcks(own, 30_000);
    const waiting = acks.publish(`${prefix}.silent2`, Buffer.from('a'), withId('c1')).catch((e: unknown) => e);
    await own.flush();
    await own.close();
    expect(await waiting).toBeInstanceOf(NatsUnavailableError);
    expect(acks.pending).toBe(0);
    await expect(acks.publish(`${prefix}.in.x`, Buffer.from('b'), withId('c2'))).rejects.toThrow();
    silent.unsubscribe();
  });
});
