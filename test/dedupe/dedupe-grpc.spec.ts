import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomUUID } from 'node:crypto';
import { HEALTH_PROTO_PATH } from '@switchyard/contracts';
import { DedupeClient } from '@switchyard/dedupe';
import { TestStack } from '../support/stack';

describe('dedupe service over gRPC', () => {
  let stack: TestStack;
  let client: DedupeClient;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['dedupe']);
    client = new DedupeClient(stack.config.DEDUPE_GRPC_URL, 2_000);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

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
