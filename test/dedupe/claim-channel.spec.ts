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
    await expect(bad).rejects.toThrow(/UUID event_id/);
    expect((await good).results[0]!.result).toBe(NEW);
    expect(opened).toBe(1);
  });

  it('fails the waiting batches when the service goes away, and opens a new stream once it is back', async () => {
    await stack.stopApp('dedupe');
    await expect(channel.call({ claims: [claim()], completions: [] })).rejects.toThrow(DedupeUnavailableError);
    await stack.startApp('dedupe');
    const answer = await eventually(() => channel.call({ claims: [claim()], completions: [] }).catch(() => null), 10_000, 'a claim after the restart');
    expect(answer!.results[0]!.result).toBe(NEW);
    expect(opened).toBeGreaterThan(1);
  });

  it('gives up on a batch after its deadline and drops an answer that comes later', async () => {
    const written: dedupeV1.ClaimStreamRequest[] = [];
    const silent = new Duplex({
      objectMode: true,
      read() {},
      write(req: dedupeV1.ClaimStreamRequest, _enc, done) {
        written.push(req);
        done();
      },
    });
    const slow = new ClaimChannel(() => silent as any, 100);
    const t0 = Date.now();
    await expect(slow.call({ claims: [claim()], completions: [] })).rejects.toThrow(/no answer within 100 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    silent.push({ id: written[0]!.id, batch: { results: [], completed: [] }, errorCode: 0, errorMessage: '' }); // ignored
    await new Promise((r) => setImmediate(r));
    await slow.close();
  });
});
