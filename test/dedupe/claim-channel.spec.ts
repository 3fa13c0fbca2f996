import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomUUID } from 'node:crypto';
import { Duplex } from 'node:stream';
import { DEDUPE_PROTO_PATH, dedupeV1 } from '@switchyard/contracts';
import { ClaimChannel, DedupeUnavailableError } from '@switchyard/dedupe';
import { TestStack, eventually } from '../support/stack';

const claim = (eventId: string = randomUUID()) => ({ key: randomUUID(), clinicId: 'c1', eventId, leaseMs: 0 });
const NEW = dedupeV1.ClaimResult.CLAIM_RESULT_NEW;

/** ClaimChannel against the real dedupe service: many batches on one stream, failures, restarts, deadlines. */
describe('ClaimChannel (batches over one ClaimStream)', () => {
  let stack: TestStack;
  let raw: grpc.Client & { ClaimStream: (md: grpc.Metadata) => any };
  let opened = 0;
  let channel: ClaimChannel;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['dedupe']);
    const definition = protoLoader.loadSync(DEDUPE_PROTO_PATH, { keepCase: false, longs: Number, enums: Number, defaults: true });
    const Ctor = (grpc.loadPackageDefinition(definition) as any).dedupe.v1.DedupeService as grpc.ServiceClientConstructor;
    raw = new Ctor(stack.config.DEDUPE_GRPC_URL, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 200,
    }) as any;
    channel = new ClaimChannel((md) => (opened++, raw.ClaimStream(md)), 2_000);
  });
  afterAll(async () => {
    await channel?.close();
    raw?.close();
    await stack?.stop();
  });

  it('answers 50 concurrent batches on one stream, each with its own results', async () => {
    const batches = Array.from({ length: 50 }, () => ({ claims: [claim(), claim()], completions: [] }));
    const answers = await Promise.all(batches.map((b) => channel.call(b)));
    expect(opened).toBe(1);
    answers.forEach((a, i) => {
      expect(a.results.map((r) => r.result)).toEqual([NEW, NEW]);
      expect(a.results.map((r) => r.eventId)).toEqual(batches[i]!.claims.map((c) => c.eventId));
    });
  });

  it('fails only the batch the service refuses; the stream goes on', async () => {
    const bad = channel.call({ claims: [claim('not-a-uuid')], completions: [] });
    const good = channel.call({ claims: [claim()], completions: [] });
    await expect(bad).rejects.toThrow(DedupeUnavailableError);
    await expect(bad).rejects.toThrow(/event_id must be a UUID/);
    expect((await good).results[0]!.result).toBe(NEW);
    expect(opened).toBe(1);
  });

  it('fails the waiting batches when the service goes away, and opens a new stream once it is back', async () => {
    // Hold the row lock of a key so that its claim waits in Postgres: the batch is in flight when dedupe stops.
    const held = claim();
    const lock = stack.db.createQueryRunner();
    await lock.startTransaction();
    await lock.query(
      `INSERT INTO idempotency_claims (key, clinic_id, event_id, state, token, lease_until, expires_at)
       VALUES ($1, 'c1', $2, 'pending', 'lock', now() + interval '1 minute', now() + interval '1 day')`,
      [held.key, held.eventId],
    );
    const t0 = Date.now();
    const waiting = channel.call({ claims: [held], completions: [] });
    const outcome = waiting.then(
      () => 'answered',
      (err: Error) => err,
    );
    await new Promise((r) => setTimeout(r, 100));
    const stopping = stack.stopApp('dedupe');
    const failure = await outcome;
    expect(failure).toBeInstanceOf(DedupeUnavailableError);
    expect((failure as Error).message).not.toMatch(/no answer within/); // failed by the stream, not by its deadline
    expect(Date.now() - t0).toBeLessThan(2_000);
    await lock.rollbackTransaction();
    await lock.release();
    await stopping;

    await expect(channel.call({ claims: [claim()], completions: [] })).rejects.toThrow(DedupeUnavailableError);
    await stack.startApp('dedupe');
    const answer = await eventually(() => channel.call({ claims: [claim()], completions: [] }).catch(() => null), 10_000, 'a claim after the restart');
    expect(answer!.results[0]!.result).toBe(NEW);
    expect(opened).toBeGreaterThan(1);
  });

  it('gives up on a batch after its deadline, cancels a stream that stays silent, and drops a late answer', async () => {
    const streams: Array<Duplex & { written: dedupeV1.ClaimStreamRequest[]; cancelled: boolean }> = [];
    const silentStream = () => {
      const written: dedupeV1.ClaimStreamRequest[] = [];
      const stream = Object.assign(
        new Duplex({
          objectMode: true,
          read() {},
          write(req: dedupeV1.ClaimStreamRequest, _enc, done) {
            written.push(req);
            done();
          },
        }),
        { written, cancelled: false },
      );
      Object.assign(stream, { cancel: () => (stream.cancelled = true) });
      streams.push(stream);
      return stream as any;
    };
    const slow = new ClaimChannel(silentStream, 100);
    const t0 = Date.now();
    await expect(slow.call({ claims: [claim()], completions: [] })).rejects.toThrow(/no answer within 100 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(streams.map((s) => s.cancelled)).toEqual([true]);

    // The late answer on the cancelled stream is dropped; the next call goes on a new stream.
    streams[0]!.push({ id: streams[0]!.written[0]!.id, batch: { results: [], completed: [] }, errorCode: 0, errorMessage: '' });
    const next = slow.call({ claims: [claim()], completions: [] });
    expect(streams).toHaveLength(2);
    const id = streams[1]!.written[0]!.id;
    streams[1]!.push({ id, batch: { results: [{ result: NEW, token: 't', eventId: 'e' }], completed: [] }, errorCode: 0, errorMessage: '' });
    await expect(next).resolves.toEqual({ results: [{ result: NEW, token: 't', eventId: 'e' }], completed: [] });
    await slow.close();
    await expect(slow.call({ claims: [claim()], completions: [] })).rejects.toThrow(/closed/);
  });

  it('closes once the batches in flight are answered', async () => {
    const own = new ClaimChannel((md) => raw.ClaimStream(md), 2_000);
    const inFlight = Array.from({ length: 10 }, () => own.call({ claims: [claim()], completions: [] }));
    await own.close();
    for (const answer of inFlight) expect((await answer).results[0]!.result).toBe(NEW);
  });
});
