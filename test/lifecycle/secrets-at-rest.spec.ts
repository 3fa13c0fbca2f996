import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAdmin } from '../../apps/admin/src/main';
import { startFanout } from '../../apps/fanout/src/main';
import { shipment } from '../delivery/delivery-support';
import { TestReceiver, signedBy as verifies } from '../support/receiver';
import { TestStack } from '../support/stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

/** `pg_dump` of the test's schema: everything a stolen backup would hold. */
async function dump(stack: TestStack): Promise<string> {
  const { stdout } = await run('pg_dump', ['--dbname', stack.config.DATABASE_URL, '--schema', stack.config.DATABASE_SCHEMA, '--data-only', '--inserts'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** `switchyard reencrypt-secrets` as an operator runs it: the CLI, in its own process, configured by the environment. */
async function reencrypt(stack: TestStack, env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, ['-r', '@swc-node/register', 'scripts/switchyard.ts', 'reencrypt-secrets'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: stack.config.DATABASE_URL, DATABASE_SCHEMA: stack.config.DATABASE_SCHEMA, LOG_LEVEL: 'silent', ...env },
  });
  return stdout;
}


describe('secrets at rest: encrypted with a key id, re-encrypted under a new key, absent from a database dump', () => {
  let stack: TestStack;
  const receiver = new TestReceiver();
  let fanout: { close(): Promise<void> } | undefined;
  let admin: { close(): Promise<void> } | undefined;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { SECRETS_KEYS: `k1:${K1}` }, ['dedupe', 'ingress', 'admin']);
    await receiver.start();
  });

  afterAll(async () => {
    await fanout?.close();
    await admin?.close();
    await stack?.stop();
    await receiver.stop();
  });

  it('keeps every signing secret, previous secret, subscriber API key and remembered answer out of pg_dump, before and after a key rotation', async () => {
    const clinic = await stack.createClinic('Dumped clinic');
    const apiKeyA = `downstream-key-a-${randomUUID()}`;
    const apiKeyB = `downstream-key-b-${randomUUID()}`;
    const a = await stack.createSubscriber(clinic.id, `${receiver.url}/a`, { api_key: apiKeyA });
    const rotated = await stack.admin('POST', `/api/external/webhook/${a.id}/rotate-secret`, { overlap_seconds: 3600 });
    expect(rotated.status).toBe(201);
    const secretA2: string = rotated.body.data.secret;
    // created with an Idempotency-Key: its answer (with the secret) is remembered, encrypted
    const createB = () => stack.admin('POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: `${receiver.url}/b` }, { 'idempotency-key': idempotencyKey });
    const idempotencyKey = randomUUID();
    const createdB = await createB();
    expect(createdB.status).toBe(201);
    const secretB: string = createdB.body.data.secret;
    expect((await stack.admin('PATCH', `/api/external/webhook/${createdB.body.data.webhook_id}`, { api_key: apiKeyB })).status).toBe(200);
    // a row written before encryption existed (plain text), as an upgraded database holds it
    const legacySecret = `whsec_${randomBytes(24).toString('base64')}`;
    const legacyKey = `legacy-downstream-key-${randomUUID()}`;
    await stack.db.query(`INSERT INTO subscribers (id, clinic_id, url, secret, api_key) VALUES ($1, $2, $3, $4, $5)`, [
      randomUUID(),
      clinic.id,
      `${receiver.url}/legacy`,
      legacySecret,
      legacyKey,
    ]);
    const secrets = { 'signing secret': a.secret, 'rotated secret': secretA2, 'secret of an idempotent create': secretB, 'api key a': apiKeyA, 'api key b': apiKeyB, 'clinic key': clinic.apiKey };
    const found = (text: string, wanted: Record<string, string>) => Object.entries(wanted).filter(([, v]) => text.includes(v)).map(([k]) => k);

    const before = await dump(stack);
    expect(found(before, { legacySecret, legacyKey })).toEqual(['legacySecret', 'legacyKey']); // the dump does hold the table's values
    expect(found(before, secrets)).toEqual([]);
    expect(before).toMatch(/enc:v1:k1:/);

    // a second key, made the active one; the command moves everything to it, and a second run finds nothing to do
    const rotatedEnv = { SECRETS_KEYS: `k1:${K1},k2:${K2}`, SECRETS_ACTIVE_KEY: 'k2' };
    const first = await reencrypt(stack, rotatedEnv);
    expect(first).toMatch(/re-encrypted under key \\"k2\\": 3 subscriber\(s\), 1 Idempotency-Key answer\(s\); subscriber secrets by key now \{\\"k2\\":7\}/);
    expect(await reencrypt(stack, rotatedEnv)).toMatch(/0 subscriber\(s\), 0 Idempotency-Key answer\(s\)/);

    const after = await dump(stack);
    expect(found(after, { ...secrets, legacySecret, legacyKey })).toEqual([]);
    expect(after).not.toMatch(/enc:v1:k1:/);
    expect(after).toMatch(/enc:v1:k2:/);

    // the old key is retired: a fan-out that holds only k2 signs with every secret and sends every API key
    const onlyK2 = { ...stack.config, SECRETS_KEYS: [{ id: 'k2', key: K2 }], SECRETS_ACTIVE_KEY: 'k2' };
    fanout = await startFanout(onlyK2);
    expect((await stack.send(clinic.apiKey, shipment(`secrets-${randomUUID()}`))).status).toBe(200);
    await receiver.waitFor(3);
    const at = (path: string) => receiver.requests.find((r) => r.path === `/hook/${path}`)!;
    expect(verifies(a.secret, at('a')) && verifies(secretA2, at('a'))).toBe(true);
    expect(at('a').headers['x-api-key']).toBe(apiKeyA);
    expect(verifies(secretB, at('b'))).toBe(true);
    expect(at('b').headers['x-api-key']).toBe(apiKeyB);
    expect(verifies(legacySecret, at('legacy'))).toBe(true);
    expect(at('legacy').headers['x-api-key']).toBe(legacyKey);
    // and a retry of the idempotent create still answers its first result, secret included, from the re-encrypted record
    await stack.stopApp('admin');
    const adminK2 = await startAdmin(onlyK2);
    admin = adminK2;
    const replayed = await fetch(`${adminK2.url.replace('[::1]', '127.0.0.1')}/api/external/webhook`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.config.ADMIN_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify({ clinic_id: clinic.id, webhook_url: `${receiver.url}/b` }),
    });
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(await replayed.json()).toEqual(createdB.body);
  });

  it('refuses to run when a value is under a key it does not hold, naming what to do', async () => {
    await expect(reencrypt(stack, { SECRETS_KEYS: `k3:${randomBytes(32).toString('base64')}` })).rejects.toThrow(
      /under a key SECRETS_KEYS does not hold[\s\S]*add that key and run again/,
    );
  });
});
