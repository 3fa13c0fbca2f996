import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { connectNats, ensureStreams, streamSettingsFrom } from '@switchyard/messaging';
import { PrivateNats } from '../support/private-nats';

/**
 * nats-server 2.9 removes an account's store directory when the account's last stream is deleted; a stream
 * created at that moment fails to make its store ("error creating store for stream"), which once failed a
 * suite of `npm test` whose neighbours deleted their streams. ensureStreams tries again. On a private server
 * (its store is the only one that matters here), 100 rounds of three creations racing the deletion of the
 * account's only other stream: about one creation in sixty failed before.
 */
describe('creating a stream while the account loses its last other stream (private nats-server)', () => {
  const nats = new PrivateNats();
  const conns: NatsConnection[] = [];
  const settings = streamSettingsFrom(loadConfig({ ...process.env, NATS_PREFIX: 'unused' }));

  beforeAll(async () => {
    await nats.start();
    for (let i = 0; i < 4; i++) conns.push(await connectNats(nats.url, `store-race-${i}`));
  });

  afterAll(async () => {
    for (const nc of conns) await nc.close();
    await nats.destroy();
  });

  it('makes every stream', async () => {
    const [first, ...others] = conns;
    const jsm = await jetstreamManager(first!);
    const failures: string[] = [];
    for (let round = 0; round < 100; round++) {
      await jsm.streams.add({ name: 'LAST', subjects: ['last.>'] });
      const subjects = others.map(() => subjectsFor(`t_store_race_${randomBytes(3).toString('hex')}`));
      const created = await Promise.allSettled([
        jsm.streams.delete('LAST'),
        ...others.map((nc, i) => new Promise((r) => setTimeout(r, Math.random() * 3)).then(() => ensureStreams(nc, subjects[i]!, settings))),
      ]);
      for (const c of created.slice(1)) if (c.status === 'rejected') failures.push(String((c.reason as Error).message));
      for (const s of subjects) await jsm.streams.delete(s.inboundStream).catch(() => undefined);
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
