import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomBytes, randomUUID } from 'node:crypto';
import { DEDUPE_PROTO_PATH, HEALTH_PROTO_PATH, dedupeV1 } from '@switchyard/contracts';
import { ClaimReply, DedupeClient, claimStatementsInFlight } from '@switchyard/dedupe';
import { heldTransaction, waitingOn } from '../support/database';
import { TestStack, eventually } from '../support/stack';

/** How a unary call on the raw client ended: its answer, or the gRPC status it failed with. */
type Unary = { code: number; details: string; res?: unknown };
type RawName = 'Claim' | 'Complete' | 'Release' | 'ClaimBatch';
type RawMethod = (req: object, callback: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

describe('dedupe service over gRPC', () => {
  let stack: TestStack;
  let client: DedupeClient;
  /** The service without DedupeClient's checks and batching: what any caller on the network can send. */
  let raw: grpc.Client & Record<RawName, RawMethod>;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['dedupe']);
    client = new DedupeClient(stack.config.DEDUPE_GRPC_URL, 2_000);
    const def = protoLoader.loadSync(DEDUPE_PROTO_PATH, { keepCase: false, longs: Number, enums: Number, defaults: true });
    const Dedupe = (grpc.loadPackageDefinition(def) as any).dedupe.v1.DedupeService as grpc.ServiceClientConstructor;
    raw = new Dedupe(stack.config.DEDUPE_GRPC_URL, grpc.credentials.createInsecure()) as any;
  });
  afterAll(async () => {
    raw?.close();
    await client?.close();
    await stack?.stop();
  });

  const unary = (method: RawName, req: object) =>
    new Promise<Unary>((resolve) =>
      raw[method].call(raw, req, (err, res) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', res })),
    );

  /**
   * Sends `bad` and a valid claim from the client while every claim statement the service may run at once
   * waits on a key a transaction of the test holds, so that both wait in the service's queue and, when the
   * transaction commits, are written in one statement: what happens by chance to concurrent callers.
   */
  async function alongsideAValidClaim(bad: () => Promise<Unary>): Promise<{ bad: Unary; valid: ClaimReply | Error }> {
    const held = randomUUID();
    const holding = await heldTransaction(
      stack.config.DATABASE_SCHEMA,
      `INSERT INTO idempotency_claims (key, clinic_id, event_id, state, token, lease_until, expires_at, created_at)
       VALUES ($1, 'c1', gen_random_uuid(), 'pending', 'held', now() + interval '1 minute', now() + interval '1 day', now())`,
      [held],
    );
    const waiting: Array<Promise<unknown>> = [];
    let answers: Promise<[Unary, ClaimReply | Error]>;
    try {
      for (let i = 1; i <= claimStatementsInFlight(stack.config.DATABASE_POOL_SIZE); i++) {
        // One at a time, so that each is a statement of its own (claims made together would share one).
        waiting.push(client.claim({ key: held, clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 }));
        await eventually(async () => (await waitingOn(stack.db, holding.pid)) >= i);
      }
      const valid = client.claim({ key: randomUUID(), clinicId: 'c2', eventId: randomUUID(), leaseMs: 0 }).catch((err: Error) => err);
      answers = Promise.all([bad(), valid]);
      await new Promise((r) => setTimeout(r, 200)); // both reach the queue of this same process over loopback well within this
    } finally {
      await holding.commit();
      await Promise.allSettled(waiting);
    }
    const [badAnswer, valid] = await answers;
    return { bad: badAnswer, valid };
  }

  it('claims, completes and answers duplicates', async () => {
    const req = { key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 };
    const claim = await client.claim(req);
    expect(claim.outcome).toBe('new');
    if (claim.outcome !== 'new') return;
    await expect(client.complete(req.key, claim.token)).resolves.toBe(true);
    await expect(client.claim({ ...req, eventId: randomUUID() })).resolves.toEqual({ outcome: 'duplicate', eventId: req.eventId });
  });

  it('carries a completion along with the next claim, so a resend right after is a duplicate', async () => {
    const patient = new DedupeClient(stack.config.DEDUPE_GRPC_URL, 2_000, 60_000); // the linger never runs out here
    try {
      const req = { key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 };
      const claim = await patient.claim(req);
      if (claim.outcome !== 'new') throw new Error('expected a new claim');
      let completed: boolean | undefined;
      const completion = patient.complete(req.key, claim.token).then((c) => (completed = c));
      await new Promise((r) => setTimeout(r, 50));
      expect(completed).toBeUndefined(); // waiting for a call to ride along with
      await expect(patient.claim({ ...req, eventId: randomUUID() })).resolves.toEqual({ outcome: 'duplicate', eventId: req.eventId });
      await completion;
      expect(completed).toBe(true);
    } finally {
      await patient.close();
    }
  });

  it('sends waiting completions on their own after the linger, and on close', async () => {
    const req = { key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 };
    const claim = await client.claim(req);
    if (claim.outcome !== 'new') throw new Error('expected a new claim');
    await expect(client.complete(req.key, claim.token)).resolves.toBe(true);

    const closing = new DedupeClient(stack.config.DEDUPE_GRPC_URL, 2_000, 60_000);
    const second = { key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 };
    const secondClaim = await closing.claim(second);
    if (secondClaim.outcome !== 'new') throw new Error('expected a new claim');
    const completion = closing.complete(second.key, secondClaim.token);
    await closing.close();
    await expect(completion).resolves.toBe(true);
    await expect(client.claim(second)).resolves.toEqual({ outcome: 'duplicate', eventId: second.eventId });
  });

  it('refuses a malformed claim with INVALID_ARGUMENT', async () => {
    await expect(client.claim({ key: '', clinicId: 'c1', eventId: 'nope', leaseMs: 0 })).rejects.toThrow(/required/);
  });

  describe('answers a request Postgres would refuse INVALID_ARGUMENT, and a valid claim that would have shared its statement as usual', () => {
    const claim = { key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 };
    const token = randomUUID();
    it.each([
      ['an event id of 36 hex digits and hyphens that is no UUID (the uuid[] cast)', 'Claim', { ...claim, eventId: '0'.repeat(36) }, /event_id/],
      ['a lease_ms above 2^31 − 1 (the int[] cast)', 'Claim', { ...claim, leaseMs: 2 ** 31 }, /lease_ms/],
      ['a key with a NUL character (no text holds one)', 'Claim', { ...claim, key: 'a\u0000b' }, /key/],
      ['a key too long for an entry of the key index', 'Claim', { ...claim, key: randomBytes(1_500).toString('hex') }, /key/],
      ['a clinic id with a NUL character', 'Claim', { ...claim, clinicId: 'c\u0000' }, /clinic_id/],
      ['a completion whose token has a NUL character', 'Complete', { key: claim.key, token: `${token}\u0000` }, /token/],
      ['a completion whose key has a NUL character', 'Complete', { key: 'a\u0000b', token }, /key/],
    ] as const)('%s', async (_, method, req, message) => {
      const { bad, valid } = await alongsideAValidClaim(() => unary(method, req));
      expect(valid).toMatchObject({ outcome: 'new' });
      expect(bad).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(message) });
    });
  });

  it('takes each claim field up to its bound and refuses it one past, naming the field', async () => {
    const claim = () => ({ key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 });
    const newClaim = { code: grpc.status.OK, res: expect.objectContaining({ result: dedupeV1.ClaimResult.CLAIM_RESULT_NEW }) };
    const refused = (message: RegExp) => ({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(message) });
    await expect(unary('Claim', { ...claim(), key: 'é'.repeat(128) })).resolves.toMatchObject(newClaim); // 256 bytes of UTF-8
    await expect(unary('Claim', { ...claim(), key: `${'é'.repeat(128)}k` })).resolves.toMatchObject(refused(/^key must be at most 256 bytes/));
    await expect(unary('Claim', { ...claim(), leaseMs: 3_600_000 })).resolves.toMatchObject(newClaim);
    await expect(unary('Claim', { ...claim(), leaseMs: 3_600_001 })).resolves.toMatchObject(refused(/^lease_ms must be at most 3600000/));
    await expect(unary('Claim', { ...claim(), eventId: randomUUID().toUpperCase() })).resolves.toMatchObject(newClaim);
    await expect(unary('Claim', { ...claim(), eventId: randomUUID().replace(/-/g, '') })).resolves.toMatchObject(refused(/^event_id must be a UUID/));
    await expect(unary('Claim', { ...claim(), clinicId: '' })).resolves.toMatchObject(refused(/^clinic_id is required/));
  });

  it('refuses a release whose token is not one a claim answered, and a batch with a malformed completion, writing none of it', async () => {
    const req = { key: randomUUID(), clinicId: 'c1', eventId: randomUUID(), leaseMs: 0 };
    await expect(unary('Release', { key: req.key, token: 'a\u0000' })).resolves.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^token/) });
    await expect(unary('ClaimBatch', { claims: [req], completions: [{ key: randomUUID(), token: 'not-a-token' }] })).resolves.toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'completions[0]: token must be the UUID a new claim answered',
    });
    await expect(client.claim(req)).resolves.toMatchObject({ outcome: 'new' }); // the refused batch did not claim it
  });

  it('implements grpc.health.v1.Health', async () => {
    const def = protoLoader.loadSync(HEALTH_PROTO_PATH, { keepCase: true, enums: String, defaults: true });
    const Health = (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
    const health = new Health(stack.config.DEDUPE_GRPC_URL, grpc.credentials.createInsecure()) as any;
    const check = (service: string) =>
      new Promise<any>((resolve, reject) => health.Check({ service }, (err: Error | null, res: any) => (err ? reject(err) : resolve(res))));
    await expect(check('')).resolves.toEqual({ status: 'SERVING' });
    await expect(check('dedupe.v1.DedupeService')).resolves.toEqual({ status: 'SERVING' });
    await expect(check('something.Else')).resolves.toEqual({ status: 'SERVICE_UNKNOWN' });
    health.close();
  });
});
