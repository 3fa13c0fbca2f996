import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { claimStatementsInFlight } from '@switchyard/dedupe';
import { pgPool } from './pg';

/** Runs `workers` loops of `op` for `seconds`; returns operations per second and the count. */
async function closedLoop(workers: number, seconds: number, op: () => Promise<number>): Promise<{ perSecond: number; count: number }> {
  const end = Date.now() + seconds * 1000;
  let count = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < end) {
        const done = await op(); // not `count += await op()`: that reads `count` before the await and loses updates
        count += done;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { perSecond: Math.round(count / elapsed), count };
}

/**
 * JetStream publish with PubAck, `Nats-Msg-Id` set, file storage, `inFlight` publishes outstanding, on a
 * stream of its own (deleted afterwards).
 */
export async function jetstreamPublishBaseline<Cpu>(
  natsUrl: string,
  prefix: string,
  payloadBytes: number,
  inFlight: number,
  seconds: number,
  /** Started right before the publishes and stopped right after them (not around connecting or the stream's set-up). */
  startCpuMeter: () => { stop(events: number): Cpu },
) {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const stream = `${prefix.toUpperCase()}_RAW`;
  await jsm.streams.add({
    name: stream,
    subjects: [`${prefix}.raw.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: 1,
    discard: DiscardPolicy.New,
  });
  const js = jetstream(nc);
  const payload = randomBytes(payloadBytes);
  try {
    const meter = startCpuMeter();
    const result = await closedLoop(inFlight, seconds, async () => {
      await js.publish(`${prefix}.raw.${Math.floor(Math.random() * 100)}`, payload, { msgID: randomUUID() });
      return 1;
    });
    return { ...result, cpu: meter.stop(result.count) };
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.drain();
  }
}

/**
 * Raw claim inserts into a copy of `idempotency_claims`: single rows with `INSERT … ON CONFLICT DO NOTHING`
 * from `concurrency` connections, and batches of `batchSize` through `unnest`, as many in flight as the
 * dedupe service has with its default pool (`claimStatementsInFlight`).
 */
export async function postgresClaimBaselines(databaseUrl: string, schema: string, seconds: number, concurrency = 8, batchSize = 100) {
  const pool = pgPool(databaseUrl, concurrency, schema);
  try {
    // UNLOGGED like the table it copies (LIKE does not carry persistence over).
    await pool.query(`CREATE UNLOGGED TABLE IF NOT EXISTS bench_claims (LIKE idempotency_claims INCLUDING ALL)`);
    const insertOne = `INSERT INTO bench_claims (key, clinic_id, event_id, state, token, lease_until, expires_at)
      VALUES ($1, $2, $3, 'pending', $4, now() + interval '30 seconds', now() + interval '1 day') ON CONFLICT (key) DO NOTHING`;
    const single = await closedLoop(concurrency, seconds, async () => {
      await pool.query(insertOne, [randomBytes(32).toString('hex'), 'clinic', randomUUID(), randomUUID()]);
      return 1;
    });
    const insertMany = `INSERT INTO bench_claims (key, clinic_id, event_id, state, token, lease_until, expires_at)
      SELECT k, 'clinic', e, 'pending', t, now() + interval '30 seconds', now() + interval '1 day'
        FROM unnest($1::text[], $2::uuid[], $3::text[]) AS i(k, e, t) ON CONFLICT (key) DO NOTHING`;
    const batched = await closedLoop(claimStatementsInFlight(10), seconds, async () => {
      const keys = Array.from({ length: batchSize }, () => randomBytes(32).toString('hex'));
      const ids = Array.from({ length: batchSize }, () => randomUUID());
      await pool.query(insertMany, [keys, ids, ids]);
      return batchSize;
    });
    return { single, batched, concurrency, batchSize };
  } finally {
    await pool.query(`DROP TABLE IF EXISTS bench_claims`).catch(() => undefined);
    await pool.end();
  }
}
