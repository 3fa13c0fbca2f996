import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '@switchyard/config';
import { Subjects, subjectsFor } from '@switchyard/contracts';
import { connectNats, deleteStreams, ensureStreams, inboundStreamConfig, numberOn, streamSettingsFrom } from '@switchyard/messaging';
import { createDataSource } from '@switchyard/persistence';
import type { DataSource } from 'typeorm';
import { NatsCluster } from '../../scripts/nats-cluster';
import { freePort } from '../support/free-port';

const ROOT = join(__dirname, '../..');
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A stream created anew numbers on past the events Postgres holds (ensureStreams' `firstSequence`), so that
 * stream order and fan-out's first-delivery guard hold across a lost NATS store; the set-up command asks
 * Postgres for that number. Against the loopback NATS and Postgres, each case with a stream prefix of its own.
 */
describe('numbering a new inbound stream on from the stored events', () => {
  let nc: NatsConnection;
  const prefixes: string[] = [];
  const settings = streamSettingsFrom(loadConfig({ ...process.env, NATS_PREFIX: 'unused' }));

  const newSubjects = (): Subjects => {
    const prefix = `t_numbering_${randomBytes(3).toString('hex')}`;
    prefixes.push(prefix);
    return subjectsFor(prefix);
  };
  const publish = async (subjects: Subjects, conn = nc) => (await jetstream(conn).publish(subjects.inbound('clinic-1'), 'x')).seq;
  const state = async (subjects: Subjects) => (await (await jetstreamManager(nc)).streams.info(subjects.inboundStream)).state;

  beforeAll(async () => {
    nc = await connectNats('nats://127.0.0.1:4222', 'test-numbering');
  });

  afterAll(async () => {
    for (const prefix of prefixes) await deleteStreams(nc, subjectsFor(prefix));
    await nc.close();
  });

  it('creates a missing stream whose first message takes the sequence asked for', async () => {
    const subjects = newSubjects();
    await ensureStreams(nc, subjects, settings, { firstSequence: async () => 1_001 });
    await expect(publish(subjects)).resolves.toBe(1_001);
    await expect(publish(subjects)).resolves.toBe(1_002);
    // The consumer set-up made starts at the stream's first message.
    const consumer = await jetstream(nc).consumers.get(subjects.inboundStream, subjects.fanoutConsumer);
    const m = await consumer.next({ expires: 2_000 });
    expect(m?.seq).toBe(1_001);
  });

  it('leaves an existing stream as it is: its numbering is not asked for again', async () => {
    const subjects = newSubjects();
    await ensureStreams(nc, subjects, settings);
    await expect(publish(subjects)).resolves.toBe(1);
    const firstSequence = jest.fn(async () => 5_000);
    await ensureStreams(nc, subjects, settings, { firstSequence });
    expect(firstSequence).not.toHaveBeenCalled();
    await expect(publish(subjects)).resolves.toBe(2);
    expect((await state(subjects)).messages).toBe(2);
  });

  it('starts at 1 when nothing is stored, or when no numbering is given', async () => {
    const none = newSubjects();
    await ensureStreams(nc, none, settings, { firstSequence: async () => 1 });
    await expect(publish(none)).resolves.toBe(1);
    const plain = newSubjects();
    await ensureStreams(nc, plain, settings);
    await expect(publish(plain)).resolves.toBe(1);
  });

  it('finishes a stream its creator left half made, with the number its creator chose, and loses nothing published after', async () => {
    const subjects = newSubjects();
    const jsm = await jetstreamManager(nc);
    // What a creator that stopped right after creating leaves: the stream on its numbering subject only.
    await jsm.streams.add({ ...inboundStreamConfig(subjects, settings), subjects: [`${subjects.numberingPrefix}700`] });
    await expect(publish(subjects)).rejects.toThrow(); // no stream takes the inbound subjects yet

    await ensureStreams(nc, subjects, settings, { firstSequence: async () => 900 });
    await expect(publish(subjects)).resolves.toBe(700);

    // Two more processes finishing it late, with other numbers in mind, purge nothing already published.
    await ensureStreams(nc, subjects, settings, { firstSequence: async () => 950 });
    await expect(publish(subjects)).resolves.toBe(701);
    expect(await state(subjects)).toMatchObject({ messages: 2, first_seq: 700, last_seq: 701 });
  });

  it('a finisher holding a stale view of a half-made stream purges nothing another process let in meanwhile', async () => {
    const subjects = newSubjects();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ ...inboundStreamConfig(subjects, settings), subjects: [`${subjects.numberingPrefix}700`] });
    const stale = await jsm.streams.info(subjects.inboundStream);
    // Meanwhile another process gives it its subjects without numbering it (a fan-out of an older release),
    // and ingress's events are stored in it.
    await jsm.streams.update(subjects.inboundStream, inboundStreamConfig(subjects, settings));
    for (let i = 0; i < 3; i++) await publish(subjects);

    await expect(numberOn(nc, jsm, stale, 700)).resolves.toBe(false);
    expect(await state(subjects)).toMatchObject({ messages: 3, first_seq: 1, last_seq: 3 });
  });

  it('two processes creating it at once make one stream, numbered from the first one\'s number', async () => {
    const subjects = newSubjects();
    // (A late finisher may find the stream finished: its placeholder gets no responders, which is retried.)
    await Promise.all([
      ensureStreams(nc, subjects, settings, { waitMs: 5_000, firstSequence: async () => 300 }),
      ensureStreams(nc, subjects, settings, { waitMs: 5_000, firstSequence: async () => 310 }),
    ]);
    // Whichever created it set the number; each process that finished it at once took one more for its placeholder.
    const seq = await publish(subjects);
    expect(seq === 300 || seq === 301 || seq === 310 || seq === 311).toBe(true);
    expect(await state(subjects)).toMatchObject({ messages: 1, first_seq: seq });
  });

  it('numbers a stream replicated over three servers (STREAM_REPLICAS=3) the same way', async () => {
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const cluster = await new NatsCluster({ clientPorts: ports.slice(0, 3), routePorts: ports.slice(3), dir: mkdtempSync(join(tmpdir(), 'switchyard-numbering-')) }).start();
    const cnc = await connectNats(cluster.url, 'test-numbering-r3', { waitMs: 20_000 });
    try {
      const subjects = subjectsFor(`t_numbering_r3_${randomBytes(3).toString('hex')}`);
      // A cluster that has just started elects its meta leader first: ensureStreams waits for it.
      await ensureStreams(cnc, subjects, { ...settings, replicas: 3 }, { waitMs: 30_000, firstSequence: async () => 777 });
      // The first publish after the numbering is taken (a replicated stream refused it once on 2.9).
      await expect(publish(subjects, cnc)).resolves.toBe(777);
      const info = await (await jetstreamManager(cnc)).streams.info(subjects.inboundStream);
      expect(info.config.num_replicas).toBe(3);
      expect(info.config.subjects).toEqual([subjects.inboundWildcard]);
    } finally {
      await cnc.close();
      await cluster.stop('SIGKILL');
    }
  }, 60_000);

  describe('`switchyard setup`', () => {
    const schema = `t_numbering_${randomBytes(3).toString('hex')}`;
    let db: DataSource;
    const setup = () =>
      promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'scripts/switchyard.ts', 'setup'], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL, DATABASE_SCHEMA: schema, NATS_PREFIX: schema, LOG_LEVEL: 'warn' },
      });

    beforeAll(() => {
      prefixes.push(schema);
    });

    afterAll(async () => {
      await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db?.destroy();
    });

    it('numbers a stream it creates anew past the highest stream sequence stored', async () => {
      await setup();
      db = await createDataSource({ url: DATABASE_URL, schema, poolSize: 1, applicationName: 'test' }).initialize();
      const subjects = subjectsFor(schema);
      await expect(publish(subjects)).resolves.toBe(1); // a first set-up on an empty database: from 1

      const clinicId = randomUUID();
      await db.query(`INSERT INTO clinics (id, name) VALUES ($1, 'numbering')`, [clinicId]);
      for (const seq of [40, 41]) {
        await db.query(`INSERT INTO events (id, clinic_id, event_name, payload, received_at, stream_seq) VALUES ($1, $2, 'shipment:created', '{}', now(), $3)`, [
          randomUUID(),
          clinicId,
          seq,
        ]);
      }
      // The NATS store is lost: set-up runs again (a new release, a restarted pod) and creates the stream.
      await deleteStreams(nc, subjects);
      await setup();
      await expect(publish(subjects)).resolves.toBe(42);
    });
  });
});
